package protocol_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

func TestFraming(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	req := &pb.FetchRequest{TransferId: "t-1", Manifest: true}
	if err := cmproto.WriteDelimited(&buf, req); err != nil {
		t.Fatal(err)
	}
	if err := cmproto.WriteFrame(&buf, []byte("chunk")); err != nil {
		t.Fatal(err)
	}
	var got pb.FetchRequest
	if err := cmproto.ReadDelimited(&buf, &got, 1024); err != nil {
		t.Fatal(err)
	}
	if got.GetTransferId() != "t-1" || !got.GetManifest() {
		t.Fatalf("read %v", &got)
	}
	b, err := cmproto.ReadFrame(&buf, 16)
	if err != nil || string(b) != "chunk" {
		t.Fatalf("frame %q, %v", b, err)
	}
	if _, err := cmproto.ReadFrame(&buf, 16); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want EOF", err)
	}

	t.Run("too large", func(t *testing.T) {
		var buf bytes.Buffer
		cmproto.WriteFrame(&buf, make([]byte, 100))
		if _, err := cmproto.ReadFrame(bytes.NewReader(buf.Bytes()), 99); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("frame: %v, want ErrInvalid", err)
		}
		if err := cmproto.ReadDelimited(bytes.NewReader(buf.Bytes()), &got, 99); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("message: %v, want ErrInvalid", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		var buf bytes.Buffer
		cmproto.WriteFrame(&buf, make([]byte, 100))
		if _, err := cmproto.ReadFrame(bytes.NewReader(buf.Bytes()[:50]), 200); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("frame: %v, want ErrUnexpectedEOF", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		var buf bytes.Buffer
		cmproto.WriteFrame(&buf, []byte{0xff, 0xff, 0xff})
		if err := cmproto.ReadDelimited(&buf, &got, 99); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("message: %v, want ErrInvalid", err)
		}
	})
}

func FuzzReadDelimited(f *testing.F) {
	f.Add([]byte{3, 10, 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.FetchRequest
		_ = cmproto.ReadDelimited(bytes.NewReader(b), &m, 1<<16)
		_, _ = cmproto.ReadFrame(bytes.NewReader(b), 1<<16)
	})
}
