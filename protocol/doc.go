// Package protocol defines what crosses the wire between courtmesh nodes:
// the gossipsub topic names, the stream protocol IDs, the protobuf payloads
// (package pb, generated code committed; `go generate ./protocol` rebuilds
// it with protoc) and the pure validation of every message.
//
// Everything a node receives from the network is decoded and validated
// here before anything else sees it. Validation functions are pure: they
// take the decoded payload and the trust view in force and return an error
// saying what is wrong; the gossipsub validators in node/ map those errors
// to Reject (invalid) or Ignore (duplicate, stale).
//
// Names are versioned. Topics and protocol IDs carry the private prefix
// /courtmesh/ so that courtmesh traffic never mixes with a public libp2p
// network, and a version suffix so that an incompatible change gets a new
// name rather than a silent reinterpretation.
package protocol

//go:generate sh -c "../tools/protoc --plugin=protoc-gen-go=$(go env GOPATH)/bin/protoc-gen-go --go_out=. --go_opt=module=courtmesh.dev/courtmesh/protocol -I . pb/protocol.proto pb/transfer.proto"
