package archive

import (
	"context"
	"fmt"
)

// ListReceived is List by the appliance's own clock: recordings newest
// first by the instant retention counts from — when the appliance
// received them, or the call's own time an import kept
// (SetRetentionBase) — with From and To bounding that instant, Limit,
// Match and Cursor (a cursor of ListReceived) as in List. Times inside
// the captures play no part, so a phone whose clock is wrong does not
// hide its calls. Text is not supported (ErrInvalid).
func (a *Archive) ListReceived(ctx context.Context, q Query) ([]*Recording, string, error) {
	if q.Text != "" {
		return nil, "", fmt.Errorf("archive: list received: text: %w", ErrInvalid)
	}
	limit, upper, lower, err := listBounds(q)
	if err != nil {
		return nil, "", err
	}
	return a.page(ctx, limit, upper, descWalk(bucketByRetention, lower), q.Match)
}
