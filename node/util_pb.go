package node

import "google.golang.org/protobuf/proto"

func unmarshalPB(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

func marshalPB(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
