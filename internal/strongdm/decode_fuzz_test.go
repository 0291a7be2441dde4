package strongdm

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
)

// FuzzDecodeResponse decodes arbitrary bytes as each response type the
// client reads and converts what decodes: neither may panic. Seeds are the
// SDK's vectors, in testdata/fuzz/FuzzDecodeResponse.
func FuzzDecodeResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var grants sdmpb.AccountGrantListResponse
		if proto.Unmarshal(b, &grants) == nil {
			for _, g := range grants.GetAccountGrants() {
				grantFromPB(g)
			}
		}
		var created sdmpb.AccountGrantCreateResponse
		if proto.Unmarshal(b, &created) == nil {
			grantFromPB(created.GetAccountGrant())
		}
		var deleted sdmpb.AccountGrantDeleteResponse
		_ = proto.Unmarshal(b, &deleted)
		var accounts sdmpb.AccountListResponse
		if proto.Unmarshal(b, &accounts) == nil {
			for _, a := range accounts.GetAccounts() {
				accountFromPB(a)
			}
		}
		var resources sdmpb.ResourceListResponse
		if proto.Unmarshal(b, &resources) == nil {
			for _, r := range resources.GetResources() {
				resourceFromPB(r)
			}
		}
		var ars sdmpb.AccountResourceListResponse
		if proto.Unmarshal(b, &ars) == nil {
			for _, ar := range ars.GetAccountResources() {
				timeFromPB(ar.GetExpiresAt())
			}
		}
		var rl sdmpb.RateLimitMetadata
		if proto.Unmarshal(b, &rl) == nil && rl.GetResetAt() != nil {
			rl.GetResetAt().AsTime()
		}
	})
}
