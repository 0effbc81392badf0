package fetch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

func (f *Service) serve(st network.Stream) {
	defer st.Close()
	remote := st.Conn().RemotePeer()
	buf := make([]byte, fetchCopyBuf) // reused from request to request
	refused := 0
	for {
		st.SetReadDeadline(time.Now().Add(2 * time.Minute))
		var req pb.FetchRequest
		b, err := cmproto.ReadFrame(st, 64<<10)
		if err == nil {
			if err = proto.Unmarshal(b, &req); err != nil {
				err = fmt.Errorf("%w: %v", crypto.ErrMalformed, err)
			}
		}
		if err != nil {
			if errors.Is(err, crypto.ErrMalformed) { // not a closed or cut stream: garbage
				f.auditDone(storage.AuditEntry{Peer: remote.String(), Event: "dossier.request", Outcome: "refused", Detail: fmt.Sprintf("malformed request, stream closed: %v", err)})
			}
			st.Reset()
			return
		}
		st.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		err = f.answer(st, remote, &req, buf)
		if errors.Is(err, errRefused) {
			// A refusal is answered, and the stream stays for a retry;
			// a peer refused again and again is not given the stream to
			// fill the audit log with.
			if refused++; refused < maxRefusalsPerStream {
				continue
			}
			st.Close()
			return
		}
		if err != nil {
			st.Reset()
			return
		}
	}
}

// errRefused: answer refused the request (and told the asker why).
var errRefused = errors.New("fetch request refused")

// maxRefusalsPerStream is how many refused requests one stream may carry
// before the serving node closes it.
const maxRefusalsPerStream = 8

// answer authorises one request, audits it, and writes the response. buf
// is scratch space for copying chunks from their files to the stream.
func (f *Service) answer(st network.Stream, remote peer.ID, req *pb.FetchRequest, buf []byte) error {
	now := f.now()
	tid := req.GetTransferId()
	if len(tid) > 64 { // a transfer id is 32 hex digits: the audit keeps a bounded prefix of anything else
		tid = strings.ToValidUTF8(tid[:64], "") + "…"
	}
	audit := storage.AuditEntry{Peer: remote.String(), Transfer: tid, Event: "dossier.chunks"}
	if req.GetManifest() {
		audit.Event = "dossier.manifest"
	}
	// A refusal says why in words (error) and by the stable code of its
	// error's kind (code: api.CodeOf, from the kind with errors.Is), which
	// the asker acts on; every refusal below is of a kind.
	refuse := func(why error) error {
		msg, code := why.Error(), api.CodeOf(why)
		audit.Outcome, audit.Detail = "refused", msg
		f.auditDone(audit) // the refusal stands whether or not it is recorded
		f.metrics.ServedRequests.WithLabelValues("refused").Inc()
		f.log.Info("fetch refused", "peer", remote, "transfer", tid, "code", code, "reason", msg)
		if err := cmproto.WriteDelimited(st, &pb.FetchResponse{Version: 1, Error: msg, Code: code}); err != nil {
			return err
		}
		return errRefused
	}
	// Nothing is served that the audit log does not record.
	audited := func() error {
		if err := f.audit.Before(audit); err != nil {
			f.log.Error("fetch request not served: the audit log cannot be written", "peer", remote, "transfer", tid, "reason", err)
			return refuse(court.Errorf(court.ErrUnavailable, "the serving court cannot record the access now; try later"))
		}
		return nil
	}
	// Checked on every request: the peer's certificate is in force now.
	cert, err := f.trust.Trust().ByPeer(remote, now)
	if err != nil {
		return refuse(fmt.Errorf("not admitted: %w", err)) // its kind: permission, or revoked (a revoked or expired certificate)
	}
	audit.Court = string(cert.Code)
	id, err := court.ParseTransferID(req.GetTransferId())
	if err != nil || req.GetVersion() != 1 {
		return refuse(court.Errorf(court.ErrInvalid, "malformed request"))
	}
	t, err := f.transfers.Load(id)
	if err != nil {
		f.log.Warn("fetch request not served: the transfer does not load", "transfer", id, "reason", err)
		return refuse(court.Errorf(court.ErrUnavailable, "the serving court cannot read transfer %s now; try later", id))
	}
	if t == nil {
		return refuse(court.Errorf(court.ErrNotFound, "unknown transfer %s", id))
	}
	if err := t.MayFetch(cert.Code, now); err != nil {
		return refuse(err)
	}
	ix, err := f.index(t)
	if err != nil {
		return refuse(err)
	}
	if req.GetManifest() {
		if ix.origin == nil {
			return refuse(court.Errorf(court.ErrNotFound, "this node cannot serve the manifest"))
		}
		if req.GetFirstChunks() > 4*fetchBatch {
			return refuse(court.Errorf(court.ErrInvalid, "a manifest request asks for at most %d first chunks", 4*fetchBatch))
		}
		all := ix.origin.GetChunkIds()
		first := min(int(req.GetFirstChunks()), len(all))
		audit.Outcome, audit.Detail = "ok", fmt.Sprintf("manifest of %d chunks", len(all))
		if err := audited(); err != nil {
			return err
		}
		if err := cmproto.WriteDelimited(st, &pb.FetchResponse{Version: 1, Manifest: ix.origin, ChunkCount: uint32(first)}); err != nil || first == 0 {
			return err
		}
		// The first chunks follow, answered (checked, audited, sent) as
		// the request for them that the asker saved a round trip on.
		audit = storage.AuditEntry{Peer: audit.Peer, Court: audit.Court, Transfer: audit.Transfer, Event: "dossier.chunks"}
		req = &pb.FetchRequest{Version: 1, TransferId: req.GetTransferId(), ChunkIds: all[:first]}
	}
	ids := req.GetChunkIds()
	if len(ids) == 0 || len(ids) > 4*fetchBatch {
		return refuse(court.Errorf(court.ErrInvalid, "a request asks for 1 to %d chunks", 4*fetchBatch))
	}
	f.mu.Lock()
	tamper := f.tamper
	f.mu.Unlock()
	// Every chunk is checked and looked up before anything is sent, so
	// that the audit says what is served; a chunk this node lacks goes
	// out as an empty frame (the asker fetches it elsewhere). Each is
	// opened again only while it is sent: an asker that reads slowly
	// holds one open file here, not a request's worth.
	type chunkFile struct {
		id   crypto.ChunkID
		held bool
		size int64
	}
	files := make([]chunkFile, len(ids))
	var served int
	var bytes int64
	for i, b := range ids {
		if len(b) != 32 {
			return refuse(court.Errorf(court.ErrInvalid, "malformed chunk id"))
		}
		cid := crypto.ChunkID(b)
		if !ix.ids[cid] {
			return refuse(court.Errorf(court.ErrInvalid, "chunk %s is not part of transfer %s", cid, id))
		}
		files[i].id = cid
		if r, size, err := f.db.OpenSealedChunk(cid); err == nil {
			r.Close()
			files[i].held, files[i].size = true, size
			served++
			bytes += size
		} else if !errors.Is(err, court.ErrNotFound) {
			f.log.Warn("stored chunk does not open", "transfer", id, "chunk", cid, "reason", err)
		}
	}
	audit.Outcome, audit.Detail = "ok", fmt.Sprintf("%d of %d chunks, %d bytes", served, len(ids), bytes)
	if err := audited(); err != nil {
		return err
	}
	f.metrics.ServedRequests.WithLabelValues("served").Inc()
	f.metrics.ServedBytes.Add(float64(bytes))
	if err := cmproto.WriteDelimited(st, &pb.FetchResponse{Version: 1, ChunkCount: uint32(len(files))}); err != nil {
		return err
	}
	for _, c := range files {
		if err := f.sendChunk(st, remote, c.id, c.held, c.size, tamper, buf); err != nil {
			return err
		}
	}
	return nil
}

// sendChunk writes one chunk's frame: the chunk, opened for the time it
// is sent, or an empty frame if it is not held (or went meanwhile, as
// garbage collection may take it: the asker fetches it elsewhere).
func (f *Service) sendChunk(st network.Stream, remote peer.ID, cid crypto.ChunkID, held bool, size int64, tamper func(peer.ID, crypto.ChunkID, []byte) []byte, buf []byte) error {
	if !held {
		return cmproto.WriteFrame(st, nil)
	}
	r, got, err := f.db.OpenSealedChunk(cid)
	if err != nil || got != size {
		if r != nil {
			r.Close()
		}
		return cmproto.WriteFrame(st, nil)
	}
	defer r.Close()
	if tamper != nil {
		sealed, err := io.ReadAll(io.LimitReader(r, size))
		if err != nil {
			return err
		}
		return cmproto.WriteFrame(st, tamper(remote, cid, sealed))
	}
	return copyFrame(st, r, size, buf)
}

// copyFrame writes a frame of exactly size bytes read from r, through buf
// (the length prefix goes out with the first piece). A file that ends
// early is an error: the frame is then broken and the stream must be
// reset.
func copyFrame(w io.Writer, r io.Reader, size int64, buf []byte) error {
	k := binary.PutUvarint(buf, uint64(size))
	for left := size; left > 0 || k > 0; {
		n := min(int64(len(buf)-k), left)
		if _, err := io.ReadFull(r, buf[k:k+int(n)]); err != nil {
			return fmt.Errorf("chunk file: %w", err)
		}
		if _, err := w.Write(buf[:k+int(n)]); err != nil {
			return err
		}
		left -= n
		k = 0
	}
	return nil
}
