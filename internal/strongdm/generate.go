package strongdm

// The proto subset is registered under a project-specific path
// (oncallaccess/strongdm/v1/strongdm.proto) so it cannot clash with another
// library's files in the protobuf registry. protoc-gen-go is the tool pinned
// in go.mod; `go tool -n` builds it and prints its path. Regenerate with
// `go generate ./internal/strongdm/`.
//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --proto_path=oncallaccess/strongdm/v1=proto --go_out=sdmpb --go_opt=module=github.com/oncall-access/oncall-access/internal/strongdm/sdmpb oncallaccess/strongdm/v1/strongdm.proto"
