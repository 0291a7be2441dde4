// Package sdmpb holds the Go types generated from the strongDM API subset in
// ../proto/strongdm.proto (proto package v1). Regenerate with
// `go generate ./internal/strongdm/`.
package sdmpb
