package strongdm

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
)

// vectorFile is testdata/vectors.json: messages encoded by the official SDK.
type vectorFile struct {
	AccessKey   string `json:"access_key"`
	SecretKey   string `json:"secret_key"`
	SigningDate string `json:"signing_date"`
	Vectors     []struct {
		Message      string          `json:"message"`
		FullMethod   string          `json:"full_method"`
		SignedMethod string          `json:"signed_method"`
		Direction    string          `json:"direction"`
		JSON         json.RawMessage `json:"json"`
		Hex          string          `json:"hex"`
		Signature    string          `json:"signature"`
	} `json:"vectors"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	return vf
}

func newMessage(t *testing.T, name string) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatalf("message %s: %v", name, err)
	}
	return mt.New().Interface()
}

// Ensure every request vector encodes to the SDK's bytes and signature.
func TestRequestVectors(t *testing.T) {
	vf := loadVectors(t)
	secret, err := DecodeSecret(vf.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	date, err := time.Parse(time.DateOnly, vf.SigningDate)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vf.Vectors {
		if v.Direction != "request" {
			continue
		}
		n++
		t.Run(v.Message, func(t *testing.T) {
			m := newMessage(t, v.Message)
			if err := protojson.Unmarshal(v.JSON, m); err != nil {
				t.Fatalf("protojson.Unmarshal: %v", err)
			}
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(b); got != v.Hex {
				t.Errorf("Marshal(%s) = %s, want %s", v.JSON, got, v.Hex)
			}
			if got := Sign(secret, date, v.SignedMethod, b); got != v.Signature {
				t.Errorf("Sign(%s) = %s, want %s", v.SignedMethod, got, v.Signature)
			}
			if got := "/v1." + strings.Replace(v.SignedMethod, ".", "/", 1); got != v.FullMethod {
				t.Errorf("full method of %s = %s, want %s", v.SignedMethod, got, v.FullMethod)
			}
		})
	}
	if n != 5 {
		t.Errorf("found %d request vectors, want 5", n)
	}
}

// Ensure every response vector decodes to the fields of its JSON; fields
// outside the subset (such as postgres' hostname) are skipped on both sides.
func TestResponseVectors(t *testing.T) {
	vf := loadVectors(t)
	n := 0
	for _, v := range vf.Vectors {
		if v.Direction != "response" && v.Direction != "status-detail" {
			continue
		}
		n++
		t.Run(v.Message, func(t *testing.T) {
			want := newMessage(t, v.Message)
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(v.JSON, want); err != nil {
				t.Fatalf("protojson.Unmarshal: %v", err)
			}
			got := newMessage(t, v.Message)
			if err := proto.Unmarshal(mustHex(t, v.Hex), got); err != nil {
				t.Fatalf("proto.Unmarshal: %v", err)
			}
			discardUnknown(got.ProtoReflect())
			if !proto.Equal(got, want) {
				t.Errorf("decoded %s =\n%v\nwant\n%v", v.Message, prototext.Format(got), prototext.Format(want))
			}
		})
	}
	if n != 5 {
		t.Errorf("found %d response vectors, want 5", n)
	}
}

// Ensure the responses reach the package's types with every field set.
func TestResponseVectorsToTypes(t *testing.T) {
	vf := loadVectors(t)
	hexOf := make(map[string]string)
	for _, v := range vf.Vectors {
		if v.Direction == "response" || strings.HasPrefix(v.Direction, "grpc-status") {
			hexOf[v.Message] = v.Hex
		}
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}

	t.Run("grants", func(t *testing.T) {
		var resp sdmpb.AccountGrantListResponse
		if err := proto.Unmarshal(mustHex(t, hexOf["v1.AccountGrantListResponse"]), &resp); err != nil {
			t.Fatal(err)
		}
		want := []Grant{
			{ID: "ag-00000000000000aa", ResourceID: "rs-0a1b2c3d4e5f6071", AccountID: "a-7a6b5c4d3e2f1001",
				Start: at("2026-03-08T09:00:00Z"), End: at("2026-03-09T09:00:00Z")},
			{ID: "ag-00000000000000bb", ResourceID: "rs-0a1b2c3d4e5f6071", AccountID: "a-7a6b5c4d3e2f1002",
				Start: at("2025-01-01T00:00:00Z")},
			{ID: "ag-00000000000000cc", ResourceID: "rs-0a1b2c3d4e5f6071", AccountID: "a-7a6b5c4d3e2f1003",
				Start: at("2026-03-08T10:00:00Z"), End: at("2026-03-08T14:00:00Z"), AccessRequestID: "ar-0000000000000042"},
		}
		if got := resp.GetMeta().GetNextCursor(); got != "cursor-page-3" {
			t.Errorf("next cursor = %q, want cursor-page-3", got)
		}
		if len(resp.GetAccountGrants()) != len(want) {
			t.Fatalf("got %d grants, want %d", len(resp.GetAccountGrants()), len(want))
		}
		for i, g := range resp.GetAccountGrants() {
			if got := grantFromPB(g); !grantEqual(got, want[i]) {
				t.Errorf("grant %d = %+v, want %+v", i, got, want[i])
			}
		}
	})

	t.Run("create", func(t *testing.T) {
		var resp sdmpb.AccountGrantCreateResponse
		if err := proto.Unmarshal(mustHex(t, hexOf["v1.AccountGrantCreateResponse"]), &resp); err != nil {
			t.Fatal(err)
		}
		want := Grant{ID: "ag-00000000000000aa", ResourceID: "rs-0a1b2c3d4e5f6071", AccountID: "a-7a6b5c4d3e2f1001",
			Start: at("2026-03-08T09:00:00Z"), End: at("2026-03-09T09:00:00Z")}
		if got := grantFromPB(resp.GetAccountGrant()); !grantEqual(got, want) {
			t.Errorf("grant = %+v, want %+v", got, want)
		}
		if rl := resp.GetRateLimit(); rl.GetLimit() != 1000 || rl.GetRemaining() != 998 || rl.GetBucket() != "default" ||
			!rl.GetResetAt().AsTime().Equal(at("2026-03-08T09:01:00Z")) {
			t.Errorf("rate limit = %v", rl)
		}
	})

	t.Run("accounts", func(t *testing.T) {
		var resp sdmpb.AccountListResponse
		if err := proto.Unmarshal(mustHex(t, hexOf["v1.AccountListResponse"]), &resp); err != nil {
			t.Fatal(err)
		}
		want := []Account{
			{ID: "a-7a6b5c4d3e2f1001", Kind: "user", Email: "alice@example.com", FirstName: "Alice", LastName: "Example"},
			{ID: "a-7a6b5c4d3e2f1004", Kind: "user", Email: "dave@example.com", FirstName: "Dave", LastName: "Example", Suspended: true},
			{ID: "a-7a6b5c4d3e2f1009", Kind: "service", Name: "ci-bot"},
		}
		if len(resp.GetAccounts()) != len(want) {
			t.Fatalf("got %d accounts, want %d", len(resp.GetAccounts()), len(want))
		}
		for i, a := range resp.GetAccounts() {
			if got, ok := accountFromPB(a); !ok || got != want[i] {
				t.Errorf("account %d = %+v, %v, want %+v", i, got, ok, want[i])
			}
		}
		if got := resp.GetAccounts()[0].GetUser().GetTags().GetPairs()[0]; got.GetName() != "team" || got.GetValue() != "sre" {
			t.Errorf("alice's tag = %v, want team=sre", got)
		}
	})

	t.Run("resources", func(t *testing.T) {
		var resp sdmpb.ResourceListResponse
		if err := proto.Unmarshal(mustHex(t, hexOf["v1.ResourceListResponse"]), &resp); err != nil {
			t.Fatal(err)
		}
		want := []Resource{
			{ID: "rs-0a1b2c3d4e5f6071", Name: "prod db", Type: "postgres", Tags: map[string]string{"env": "prod", "oncall": "true"}},
			{ID: "rs-0a1b2c3d4e5f6072", Name: "bastion-1", Type: "ssh", Tags: map[string]string{"env": "prod"}},
		}
		if len(resp.GetResources()) != len(want) {
			t.Fatalf("got %d resources, want %d", len(resp.GetResources()), len(want))
		}
		for i, r := range resp.GetResources() {
			got, ok := resourceFromPB(r)
			if !ok || got.ID != want[i].ID || got.Name != want[i].Name || got.Type != want[i].Type ||
				!mapsEqual(got.Tags, want[i].Tags) {
				t.Errorf("resource %d = %+v, %v, want %+v", i, got, ok, want[i])
			}
		}
		if !resp.GetResources()[0].GetPostgres().GetHealthy() {
			t.Errorf("prod db healthy = false, want true")
		}
	})

	t.Run("status", func(t *testing.T) {
		var st spb.Status
		if err := proto.Unmarshal(mustHex(t, hexOf["google.rpc.Status"]), &st); err != nil {
			t.Fatal(err)
		}
		err := status.ErrorProto(&st)
		if !IsCode(err, codes.ResourceExhausted) {
			t.Errorf("code = %v, want ResourceExhausted", status.Code(err))
		}
		rl := RateLimit(err)
		if rl.GetLimit() != 1000 || rl.GetBucket() != "default" || !rl.GetResetAt().AsTime().Equal(at("2026-03-08T09:01:00Z")) {
			t.Errorf("RateLimit(%v) = %v", err, rl)
		}
	})
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func grantEqual(a, b Grant) bool {
	return a.ID == b.ID && a.ResourceID == b.ResourceID && a.AccountID == b.AccountID &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.AccessRequestID == b.AccessRequestID
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// discardUnknown drops unknown fields everywhere in m.
func discardUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				discardUnknown(v.List().Get(i).Message())
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			discardUnknown(v.Message())
		}
		return true
	})
}
