package strongdm

import (
	"context"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
)

// ListAccountsPages lists the accounts matching filter (all when empty) one
// page at a time: page gets each page's accounts in the server's order, and
// whether it is the last page, and returns false to stop before the next
// page is asked for. A caller looking
// for a few accounts in a large list stops as soon as it has found them or
// as soon as reading on costs more than asking for them one by one.
func (c *Client) ListAccountsPages(ctx context.Context, filter string, page func(accounts []Account, last bool) bool) error {
	o := op{"Accounts.List", fmt.Sprintf("list accounts with filter %q", filter), permAccounts}
	return listUntil(ctx, c, o, new(sdmpb.AccountListResponse),
		func(meta *sdmpb.ListRequestMetadata) proto.Message {
			return &sdmpb.AccountListRequest{Meta: meta, Filter: filter}
		},
		func(resp *sdmpb.AccountListResponse) bool {
			out := make([]Account, 0, len(resp.GetAccounts()))
			for _, a := range resp.GetAccounts() {
				if acc, ok := accountFromPB(a); ok {
					out = append(out, acc)
				}
			}
			return page(out, resp.GetMeta().GetNextCursor() == "")
		})
}

// listUntil calls a List method until the server returns no next cursor or
// page returns false; an empty page with a cursor is not the end (the SDK
// stops there, wrongly). Each page is its own signed call with its own
// retries.
func listUntil[R listResponse](ctx context.Context, c *Client, o op, resp R,
	request func(*sdmpb.ListRequestMetadata) proto.Message, page func(R) bool) error {
	meta := &sdmpb.ListRequestMetadata{}
	if c.pageLimit > 0 {
		meta.Limit = int32(min(c.pageLimit, math.MaxInt32))
	}
	seen := make(map[string]bool)
	for {
		if err := c.call(ctx, o, request(meta), resp); err != nil {
			return err
		}
		if !page(resp) {
			return nil
		}

		next := resp.GetMeta().GetNextCursor()
		if next == "" {
			return nil
		}
		// A server handing back a cursor twice would loop forever.
		if seen[next] {
			return fmt.Errorf("%s: server repeated cursor %q", o.what, next)
		}
		seen[next] = true
		meta.Cursor = next
	}
}
