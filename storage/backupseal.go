package storage

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// The sealed backup (format version 2) wraps a whole version-1 container
// (chunks, Badger's records, counts and checksum) in authenticated
// encryption, so that a backup without the court's enc.key reads as
// noise:
//
//	header    "CMBACKUP" (8 bytes), format version (uint32, big endian, 2),
//	          uvarint length, then the backup key wrapped with HPKE for the
//	          court's own encryption key (crypto.WrapDataKey, purpose
//	          "backup", label backupKeyLabel)
//	frames    one byte of flag (0: more follow, 1: the last), uint32
//	          (big endian) length, then AES-256-GCM of at most
//	          backupFrameSize bytes of the version-1 container
//
//	key   = HKDF-SHA256(backup key, salt = nil, info = "courtmesh backup v2 frames")
//	nonce = frame index (11 bytes, big endian) || flag
//	AAD   = the header, every byte of it
//
// The backup key is random for each backup, so that a nonce is never
// reused. The index and the last-frame flag in the nonce make a dropped,
// repeated, reordered or cut frame fail to open (the STREAM construction
// of Hoang, Reyhanitabar, Rogaway and Vizár); the header in the associated
// data binds every frame to the wrapped key. A frame is opened before any
// of its bytes is used.
const (
	backupVersion1  = 1 // the clear container, also the plaintext of version 2
	backupVersion   = 2 // the sealed container Backup writes
	backupFrameSize = 1 << 20
	backupKeyLabel  = "courtmesh backup v2"
	backupKeyInfo   = "courtmesh backup v2 frames"
	maxWrappedKey   = 4096
)

// frameAEAD derives the frame cipher from the backup key.
func frameAEAD(k crypto.DataKey) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, k[:], nil, backupKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func frameNonce(index uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:11], index)
	if last {
		n[11] = 1
	}
	return n
}

// sealWriter seals what is written to it into frames. Close writes the
// last frame; without it the backup does not open.
type sealWriter struct {
	w     io.Writer
	aead  cipher.AEAD
	ad    []byte
	buf   []byte
	out   []byte
	index uint64
}

// newSealWriter writes the header of a version-2 backup to w, with a new
// random backup key wrapped for dec's public key.
func newSealWriter(w io.Writer, dec crypto.Decrypter) (*sealWriter, error) {
	k, err := crypto.NewDataKey()
	if err != nil {
		return nil, err
	}
	wrapped, err := crypto.WrapDataKey(dec.KEM(), dec.PublicKey(), crypto.PurposeBackup, backupKeyLabel, k)
	if err != nil {
		return nil, err
	}
	aead, err := frameAEAD(k)
	if err != nil {
		return nil, err
	}
	hdr := []byte(backupMagic)
	hdr = binary.BigEndian.AppendUint32(hdr, backupVersion)
	hdr = binary.AppendUvarint(hdr, uint64(len(wrapped)))
	hdr = append(hdr, wrapped...)
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	return &sealWriter{w: w, aead: aead, ad: hdr, buf: make([]byte, 0, backupFrameSize)}, nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(s.buf) == backupFrameSize {
			// Full, and more follows: not the last frame.
			if err := s.frame(false); err != nil {
				return 0, err
			}
		}
		m := min(len(p), backupFrameSize-len(s.buf))
		s.buf = append(s.buf, p[:m]...)
		p = p[m:]
	}
	return n, nil
}

func (s *sealWriter) frame(last bool) error {
	var flag byte
	if last {
		flag = 1
	}
	s.out = append(s.out[:0], flag, 0, 0, 0, 0)
	s.out = s.aead.Seal(s.out, frameNonce(s.index, last), s.buf, s.ad)
	binary.BigEndian.PutUint32(s.out[1:5], uint32(len(s.out)-5))
	s.index++
	s.buf = s.buf[:0]
	_, err := s.w.Write(s.out)
	return err
}

// Close writes the last frame (possibly empty).
func (s *sealWriter) Close() error { return s.frame(true) }

// openReader reads the frames of a version-2 backup and returns the
// version-1 container they hold. A frame that does not open, a missing
// last frame and bytes after it are ErrCorrupt; err keeps the first.
type openReader struct {
	r     *bufio.Reader
	aead  cipher.AEAD
	ad    []byte
	plain []byte
	buf   []byte
	index uint64
	done  bool
	err   error
}

// newOpenReader reads the header of a version-2 backup from r (its first
// 12 bytes, magic and version, already checked) and unwraps the backup
// key with dec.
func newOpenReader(r *bufio.Reader, dec crypto.Decrypter) (*openReader, error) {
	hdr := make([]byte, 12)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: backup header is truncated", court.ErrCorrupt)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n == 0 || n > maxWrappedKey {
		return nil, fmt.Errorf("%w: backup header: bad key length", court.ErrCorrupt)
	}
	hdr = binary.AppendUvarint(hdr, n)
	wrapped := make([]byte, n)
	if _, err := io.ReadFull(r, wrapped); err != nil {
		return nil, fmt.Errorf("%w: backup header is truncated", court.ErrCorrupt)
	}
	hdr = append(hdr, wrapped...)
	k, err := crypto.UnwrapDataKey(dec, crypto.PurposeBackup, backupKeyLabel, wrapped)
	if err != nil {
		return nil, court.Errorf(court.ErrCorrupt, "the backup's key does not open with this node's enc.key (%w): restore with the enc.key of the node that wrote the backup; if it is that key, the backup is damaged", err)
	}
	aead, err := frameAEAD(k)
	if err != nil {
		return nil, err
	}
	return &openReader{r: r, aead: aead, ad: hdr}, nil
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.err = o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// next opens the next frame into o.plain.
func (o *openReader) next() error {
	var fh [5]byte
	if _, err := io.ReadFull(o.r, fh[:]); err != nil {
		return fmt.Errorf("%w: backup is truncated after %d frames (no last frame)", court.ErrCorrupt, o.index)
	}
	n := binary.BigEndian.Uint32(fh[1:])
	if fh[0] > 1 || n < uint32(o.aead.Overhead()) || n > backupFrameSize+uint32(o.aead.Overhead()) {
		return fmt.Errorf("%w: backup frame %d: bad header", court.ErrCorrupt, o.index)
	}
	o.buf = append(o.buf[:0], make([]byte, n)...)
	if _, err := io.ReadFull(o.r, o.buf); err != nil {
		return fmt.Errorf("%w: backup is truncated in frame %d", court.ErrCorrupt, o.index)
	}
	last := fh[0] == 1
	plain, err := o.aead.Open(o.buf[:0], frameNonce(o.index, last), o.buf, o.ad)
	if err != nil {
		return fmt.Errorf("%w: backup frame %d does not open: the file is damaged, altered or out of order", court.ErrCorrupt, o.index)
	}
	o.index++
	o.plain = plain
	if last {
		o.done = true
		if _, err := o.r.ReadByte(); !errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: data after the backup's last frame", court.ErrCorrupt)
		}
	}
	return nil
}
