package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// Stream protocols besides ProtoSync and ProtoBundle.
const (
	// ProtoFetch serves handed-over dossiers: manifests and sealed chunks
	// (see FetchRequest and FetchResponse in package pb).
	ProtoFetch = "/courtmesh/fetch/1.0.0"
	// MaxChunkFrame bounds one chunk frame on the fetch protocol: the
	// largest sealed chunk and room for its framing.
	MaxChunkFrame = crypto.MaxChunkSize + 1024
)

// Framing on every courtmesh stream: an unsigned-varint length, then the
// bytes. Delimited protobuf messages use the same framing
// (google.golang.org/protobuf/encoding/protodelim).

// WriteFrame writes b as one frame.
func WriteFrame(w io.Writer, b []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(b)))
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// ReadFrame reads one frame of at most max bytes. A longer frame is
// refused (court.ErrInvalid) before any of it is read. The bytes are read
// as they arrive rather than allocated up front: the length is the
// sender's word, and a frame that never comes costs nothing.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	n, err := ReadFrameSize(r, max)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err == nil && len(b) != n {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// ReadFrameSize reads a frame's length, refusing one above max
// (court.ErrInvalid); the caller reads the bytes itself (into a buffer
// of its own, as the fetch does with its chunk pool).
func ReadFrameSize(r io.Reader, max int) (int, error) {
	n, err := binary.ReadUvarint(byteReader{r})
	if err != nil {
		return 0, err
	}
	if n > uint64(max) {
		return 0, court.Errorf(court.ErrInvalid, "frame of %d bytes exceeds the limit of %d", n, max)
	}
	return int(n), nil
}

// WriteDelimited writes m as one length-delimited message.
func WriteDelimited(w io.Writer, m proto.Message) error {
	_, err := protodelim.MarshalTo(w, m)
	return err
}

// ReadDelimited reads one length-delimited message of at most max bytes
// into m. It reads nothing past the message. A longer message is refused
// (court.ErrInvalid); so is one that does not decode.
func ReadDelimited(r io.Reader, m proto.Message, max int) error {
	err := protodelim.UnmarshalOptions{MaxSize: int64(max)}.UnmarshalFrom(byteReader{r}, m)
	var tooLarge *protodelim.SizeTooLargeError
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return err
	case errors.As(err, &tooLarge):
		return court.Errorf(court.ErrInvalid, "message of %d bytes exceeds the limit of %d", tooLarge.Size, max)
	}
	return fmt.Errorf("%w: %w", court.ErrInvalid, err)
}

// byteReader reads one byte at a time without buffering past the frame.
type byteReader struct{ io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.Reader, c[:])
	return c[0], err
}
