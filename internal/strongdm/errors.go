package strongdm

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrExistsAfterRetry marks an ALREADY_EXISTS answer to a create that was
// retried after a transient failure (a timeout, say): the earlier attempt was
// most likely applied, so the grant exists and the caller can count it as
// made. The error also wraps the gRPC status, so IsCode(err,
// codes.AlreadyExists) holds as well.
var ErrExistsAfterRetry = errors.New("already exists after a retried attempt")

// IsCode reports whether err is or wraps a gRPC status error with code c.
// Unlike status.Code it is false for a nil error whatever c is.
func IsCode(err error, c codes.Code) bool {
	if err == nil {
		return false
	}
	st, ok := status.FromError(err)
	return ok && st.Code() == c
}
