package api

import (
	"net/http"
	"strconv"
	"time"
)

// The log-head route: what this node knows of the record log of one
// certificate's key, for the national operator who revokes that key and
// pins its last trusted head (courtmesh trust head, then ca revoke).
//
//	GET /v1/trust/log-head?serial=N[&seq=M] -> LogHead

// LogPosition is a position in a record log and the log's chain hash up
// to it (hex), as `ca revoke --last-trusted-seq/--last-trusted-head`
// takes them.
type LogPosition struct {
	Seq  uint64 `json:"seq"`
	Head string `json:"head"`
}

// LogHead is this node's view of the record log of the key a certificate
// certifies: the newest head the key's own heartbeats showed (Witnessed,
// when WitnessedAt), and the chain hash of the log as this node holds it
// (Held: at Seq if asked, else at the witnessed position if this node
// holds that far, else its complete head). Agrees says Held is the
// witnessed head.
type LogHead struct {
	Court       string       `json:"court"`
	Serial      uint64       `json:"serial"`
	Peer        string       `json:"peer"`
	Revoked     bool         `json:"revoked"`
	Witnessed   *LogPosition `json:"witnessed,omitempty"`
	WitnessedAt *time.Time   `json:"witnessed_at,omitempty"`
	Held        LogPosition  `json:"held"`
	Agrees      bool         `json:"agrees"`
}

// LogHeadService answers the log-head route; the node implements it. seq
// 0 means "the witnessed head, or the complete log". An unknown serial is
// court.ErrNotFound; a seq beyond what this node holds too.
type LogHeadService interface {
	LogHead(serial, seq uint64) (LogHead, error)
}

// RegisterLogHead adds GET /v1/trust/log-head to s.
func RegisterLogHead(s *Server, l LogHeadService) {
	s.Handle("GET /v1/trust/log-head", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "serial", "seq") {
			return
		}
		serial, err := strconv.ParseUint(r.URL.Query().Get("serial"), 10, 64)
		if err != nil || serial == 0 {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "serial: a certificate serial is required (?serial=N)"))
			return
		}
		var seq uint64
		if v := r.URL.Query().Get("seq"); v != "" {
			if seq, err = strconv.ParseUint(v, 10, 64); err != nil || seq == 0 {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "seq: a record position from 1"))
				return
			}
		}
		h, err := l.LogHead(serial, seq)
		if err != nil {
			WriteError(w, FromError(err))
			return
		}
		WriteJSON(w, http.StatusOK, h)
	})
}
