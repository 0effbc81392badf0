package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// ConfigVersion is the config file format version this build reads.
const ConfigVersion = 1

// Config is a node's configuration. The zero value of each field means
// the documented default.
type Config struct {
	// Version of the file format; must be 1.
	Version int `toml:"version"`
	// Listen is the libp2p listen addresses. Default: /ip4/0.0.0.0/tcp/4701.
	Listen []string `toml:"listen"`
	// Bootstrap is the multiaddrs (with /p2p/ID) of peers to keep
	// connected to, usually the province's high court and the national
	// operator. Default: none.
	Bootstrap []string `toml:"bootstrap"`
	// APIListen is the local API TCP address; it must be a loopback
	// address. Default: 127.0.0.1:4780. "off" disables TCP (the Unix socket
	// stays).
	APIListen string `toml:"api_listen"`
	// PSKFile names a libp2p pre-shared key file (pnet) that closes the
	// mesh at the transport. Default: none.
	PSKFile string `toml:"psk_file"`
	// ReconnectInterval is how often bootstrap peers are redialled.
	// Default: 10s.
	ReconnectInterval Duration `toml:"reconnect_interval"`
	// LogFormat is "text" or "json". Default: text.
	LogFormat string `toml:"log_format"`
	// SyncInterval is how often the node announces its record log head
	// and compares logs with a random peer; a node that was away has every
	// record within one interval of reconnecting. Default: 30s.
	SyncInterval Duration `toml:"sync_interval"`
	// AcceptanceDays is the default time a designated court has to accept
	// a transfer after this court's decision. Default: 7. This and the
	// periods below are written into the decisions this court signs
	// (they fix the deadlines for every node); they do not change how
	// this node reads other courts' decisions.
	AcceptanceDays int `toml:"acceptance_days"`
	// HandoverDays is the time the origin has to hand over after the
	// acceptance, in this court's decisions. Default: 7.
	HandoverDays int `toml:"handover_days"`
	// FilingDays is the time the receiver has to confirm receipt and file
	// after the handover, in this court's decisions. Default: 7.
	FilingDays int `toml:"filing_days"`
	// InvestigationMonths is the time the receiver has to investigate the
	// debtor's property after filing, in this court's decisions.
	// Default: 1.
	InvestigationMonths int `toml:"investigation_months"`
	// ConclusionMonths is the time the receiver has to conclude the case
	// after filing, in this court's decisions. Default: 6.
	ConclusionMonths int `toml:"conclusion_months"`
	// ReturnDays is the time the receiver has to return an incomplete
	// handover, in this court's decisions. Default: 15.
	ReturnDays int `toml:"return_days"`
	// SupplementDays is the time the origin has to supplement a returned
	// handover, in this court's decisions. Default: 30.
	SupplementDays int `toml:"supplement_days"`
	// RequestAnswerDays is the time this court gives itself, as a
	// superior, to answer an applicant's request to move a case
	// (民诉法 art. 237; the period is not in the law: a configurable
	// default). Default: 15.
	RequestAnswerDays int `toml:"request_answer_days"`
	// MetricsListen is where Prometheus scrapes /metrics (no personal
	// data, no case-level labels). Default: 127.0.0.1:4790; "off" disables
	// it (the metrics stay on the local API at /v1/metrics).
	MetricsListen string `toml:"metrics_listen"`
	// HandoverGuardDays refuses a handover while an active measure of the
	// case expires within this many days (a measure must be renewed by the
	// sender first). Default: 30.
	HandoverGuardDays int `toml:"handover_guard_days"`
	// HeartbeatInterval is how often the node publishes its signed
	// heartbeat on its province's topic; a court is reported silent after
	// three intervals without one. Default: 30s.
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
	// ClockSkewTolerance is how far a node's clock may differ from this
	// node's, as its heartbeats show, before a clock_skew alert names its
	// court; this node also judges its own clock against its peers' with
	// it (GET /v1/status, `courtmesh doctor`). Default: 2m.
	ClockSkewTolerance Duration `toml:"clock_skew_tolerance"`
	// WebhookURL, if set, receives every new alert this node raises (the
	// alerts of GET /v1/alerts and the dashboard) as a JSON POST, one alert
	// per request, deduplicated while it stays raised and retried with
	// backoff; alerts are evaluated every sync_interval. An absolute http or
	// https URL on the court network. Default: none (no webhook).
	WebhookURL string `toml:"webhook_url"`
	// ExportsDir is the folder the node writes case exports under
	// (POST /v1/cases/{n}/export): an absolute path outside the data
	// directory; each export is a new folder inside it. An export is a
	// plaintext, unmasked dossier, so the folder's permissions are the
	// court's to set. Default: none, and exports through the node are
	// refused until it is set (a stopped node's `courtmesh case export`
	// writes where its user names, never inside the data directory).
	ExportsDir string `toml:"exports_dir"`
	// DiskReserve is the free space kept on the data directory's disk:
	// an import or a fetch is refused (503 unavailable, code disk_full)
	// before it would leave less, so that the store can always commit
	// and the audit log append, and a disk_full alert is raised. Written
	// "256MiB", "1GiB" or in bytes; "0" keeps no reserve (not advised).
	// Default: 256MiB (storage.DefaultReserve).
	DiskReserve Bytes `toml:"disk_reserve"`
	// Recommend holds the weights of the receiver recommendation
	// (courtmesh transfer recommend; node/advice documents the factors).
	// An absent key is its default (advice.Default).
	Recommend Recommend `toml:"recommend"`
	// PartyListen is where the party service (当事人查询与投诉: the
	// public status page and complaint form, node/party) listens, as
	// host:port, meant to sit behind the court's public portal or a
	// reverse proxy that terminates HTTPS. Default: "" (off: no listener).
	PartyListen string `toml:"party_listen"`
	// PartyContact is the court's public contact shown to parties (a
	// telephone number, an office). Default: none (only the national
	// hotline 12368 is shown).
	PartyContact string `toml:"party_contact"`
	// PartyTrustProxy takes a party's address from the last
	// X-Forwarded-For entry when the connection comes from loopback (the
	// reverse proxy on the same host), for the per-source limits.
	// Default: false.
	PartyTrustProxy bool `toml:"party_trust_proxy"`
	// PartySecureCookies marks the party service's cookies Secure; set it
	// when the parties reach it over HTTPS (as they should). Default: false.
	PartySecureCookies bool `toml:"party_secure_cookies"`
	// ComplaintAnswerDays is how many days a supervising court has to
	// answer a party's complaint; an unanswered complaint past it is
	// overdue (alert). Default: 15.
	ComplaintAnswerDays int `toml:"complaint_answer_days"`
	// ChunkStore is where the sealed chunks of dossiers are kept: the
	// local packs under store/chunks (the default) or an S3-compatible
	// object store ([chunk_store] kind = "s3").
	ChunkStore ChunkStore `toml:"chunk_store"`
	// CheckBackFoundDays, CheckBackHeldDays, CheckBackConcludedMonths
	// and CheckBackLapsedMeasures are the rule by which this node flags
	// a transfer of a court under it for a check back on the origin
	// (倒查; protocol.CheckBackRule): an asset the receiver found within
	// found_days of filing that the debtor held at the origin's last
	// search; a case the origin held over held_days that the receiver
	// concluded within concluded_months; at least lapsed_measures
	// measures lapsed before the offer. 0 is the default (30, 365, 3,
	// 1); -1 turns that ground off. Bounds: found_days at most 90,
	// held_days at least 180, concluded_months at most 12.
	CheckBackFoundDays       int `toml:"check_back_found_days"`
	CheckBackHeldDays        int `toml:"check_back_held_days"`
	CheckBackConcludedMonths int `toml:"check_back_concluded_months"`
	CheckBackLapsedMeasures  int `toml:"check_back_lapsed_measures"`
}

// CheckBackRule is the check-back rule the configuration names.
func (c Config) CheckBackRule() (cmproto.CheckBackRule, error) {
	d := cmproto.DefaultCheckBackRule
	pick := func(v, def int) int {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	r := cmproto.CheckBackRule{FoundDays: pick(c.CheckBackFoundDays, d.FoundDays), HeldDays: pick(c.CheckBackHeldDays, d.HeldDays),
		ConcludedMonths: pick(c.CheckBackConcludedMonths, d.ConcludedMonths), LapsedMeasures: pick(c.CheckBackLapsedMeasures, d.LapsedMeasures)}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return r, nil
}

// ChunkStore configures the sealed-chunk store.
type ChunkStore struct {
	// Kind is "local" (default: files and packs under store/chunks) or
	// "s3".
	Kind string `toml:"kind"`
	// Endpoint is the S3 service's host:port (no scheme).
	Endpoint string `toml:"endpoint"`
	// TLS selects https (default true; false only on a trusted network).
	TLS *bool `toml:"tls"`
	// Region of the bucket (default: asked of the service).
	Region string `toml:"region"`
	// Bucket holds the chunks; it must exist.
	Bucket string `toml:"bucket"`
	// Prefix is put before every object name, e.g. "court-1101/", so
	// that nodes can share a bucket (one node per prefix).
	Prefix string `toml:"prefix"`
	// CredentialsFile names a file (mode 0600) of two lines,
	// "access_key = ..." and "secret_key = ...". Without it the
	// credentials come from the environment: COURTMESH_S3_ACCESS_KEY and
	// COURTMESH_S3_SECRET_KEY. Never on the command line.
	CredentialsFile string `toml:"credentials_file"`
}

// Environment variables holding the S3 credentials when no
// credentials_file is configured.
const (
	EnvS3AccessKey = "COURTMESH_S3_ACCESS_KEY"
	EnvS3SecretKey = "COURTMESH_S3_SECRET_KEY"
)

// S3Options returns the storage options of an s3 chunk store, with the
// credentials read from the file or the environment.
func (c ChunkStore) S3Options(suite crypto.Suite) (storage.S3Options, error) {
	o := storage.S3Options{Endpoint: c.Endpoint, Secure: c.TLS == nil || *c.TLS, Region: c.Region, Bucket: c.Bucket, Prefix: c.Prefix, Suite: suite}
	if c.CredentialsFile != "" {
		b, err := os.ReadFile(c.CredentialsFile)
		if err != nil {
			return o, fmt.Errorf("%w: chunk_store.credentials_file: %v", ErrConfig, err)
		}
		var cr struct {
			AccessKey string `toml:"access_key"`
			SecretKey string `toml:"secret_key"`
		}
		if _, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&cr); err != nil {
			return o, fmt.Errorf("%w: chunk_store.credentials_file %s: %v", ErrConfig, c.CredentialsFile, err)
		}
		o.AccessKey, o.SecretKey = cr.AccessKey, cr.SecretKey
	} else {
		o.AccessKey, o.SecretKey = os.Getenv(EnvS3AccessKey), os.Getenv(EnvS3SecretKey)
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return o, fmt.Errorf("%w: chunk_store: no S3 credentials (credentials_file, or %s and %s in the environment)", ErrConfig, EnvS3AccessKey, EnvS3SecretKey)
	}
	return o, nil
}

// Open opens the configured chunk store: nil for the local default
// (storage.Open then opens store/chunks), an S3Chunks for kind "s3".
func (c ChunkStore) Open(suite crypto.Suite) (storage.ChunkStore, error) {
	switch c.Kind {
	case "", "local":
		return nil, nil
	case "s3":
		o, err := c.S3Options(suite)
		if err != nil {
			return nil, err
		}
		return storage.OpenS3Chunks(o)
	}
	return nil, fmt.Errorf("%w: chunk_store.kind %q is neither local nor s3", ErrConfig, c.Kind)
}

// Bytes is a size written as "256MiB", "1GiB", "64MB" or a number of
// bytes in the file; Set reports whether it was given (a written "0"
// means zero, not the default).
type Bytes struct {
	N   int64
	Set bool
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Bytes) UnmarshalText(t []byte) error {
	n, err := ParseBytes(string(t))
	if err != nil {
		return err
	}
	*b = Bytes{N: n, Set: true}
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b Bytes) MarshalText() ([]byte, error) { return []byte(strconv.FormatInt(b.N, 10)), nil }

// ParseBytes reads a size: a whole number of bytes with an optional unit
// (B, KB, MB, GB, KiB, MiB, GiB, TiB).
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size such as 256MiB, got %q", s)
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("want a size such as 256MiB (units B, KB, MB, GB, KiB, MiB, GiB, TiB), got %q", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return n * mult, nil
}

// Recommend is the [recommend] table: the weights of node/advice. Each
// field, when absent (nil), is advice.Default's value; 0 switches a
// factor off.
type Recommend struct {
	Assets       *float64 `toml:"assets"`        // default 4: per unit of asset-value share in the candidate's district (half for its city)
	Near         *float64 `toml:"near"`          // default 1: subtracted for the same city as the origin, and again as the debtor
	ExcludeLocal *bool    `toml:"exclude_local"` // default true: exclude the origin's and the debtor's district for 指令执行
	Load         *float64 `toml:"load"`          // default 2: times open/(open+load_half)
	Overdue      *float64 `toml:"overdue"`       // default 1: times overdue/(overdue+load_half)
	LoadHalf     *float64 `toml:"load_half"`     // default 10
	Track        *float64 `toml:"track"`         // default 4: times the track-record rates' gains over their priors
	PriorCases   *float64 `toml:"prior_cases"`   // default 5: cases of neutral record a court's own is smoothed with
	Lapse        *float64 `toml:"lapse"`         // default 2: times lapsed/(lapsed+1)
	Exclude      []string `toml:"exclude"`       // default none: court codes never to recommend
	// CourtRegions maps court codes to the region code (six digits,
	// GB/T 2260) of the area the court serves, for the courts whose code
	// names none (specialised courts, codes 71-99; 军; 兵) or names the
	// wrong one: such a court then gets an asset share and is excluded
	// or penalised for local ties like any other. Default none: every
	// court's region is the one its code names (京0105 -> 110105).
	CourtRegions map[string]string `toml:"court_regions"`
}

// Weights returns the advice weights r configures over the defaults.
func (r Recommend) Weights() (advice.Weights, error) {
	w := advice.Default()
	for _, f := range []struct {
		name string
		v    *float64
		dst  *float64
	}{
		{"assets", r.Assets, &w.Assets}, {"near", r.Near, &w.Near}, {"load", r.Load, &w.Load},
		{"overdue", r.Overdue, &w.Overdue}, {"load_half", r.LoadHalf, &w.LoadHalf}, {"track", r.Track, &w.Track},
		{"prior_cases", r.PriorCases, &w.PriorCases}, {"lapse", r.Lapse, &w.Lapse},
	} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || math.IsNaN(*f.v) || math.IsInf(*f.v, 0) {
			return w, fmt.Errorf("%w: recommend.%s %v: want a finite number, 0 or more", ErrConfig, f.name, *f.v)
		}
		*f.dst = *f.v
	}
	if r.LoadHalf != nil && *r.LoadHalf == 0 {
		return w, fmt.Errorf("%w: recommend.load_half must be more than 0", ErrConfig)
	}
	if r.ExcludeLocal != nil {
		w.ExcludeLocal = *r.ExcludeLocal
	}
	for _, s := range r.Exclude {
		c, err := court.ParseCourtCode(s)
		if err != nil {
			return w, fmt.Errorf("%w: recommend.exclude: %v", ErrConfig, err)
		}
		w.Exclude = append(w.Exclude, c)
	}
	for k, v := range r.CourtRegions {
		c, err := court.ParseCourtCode(k)
		if err != nil {
			return w, fmt.Errorf("%w: recommend.court_regions: %v", ErrConfig, err)
		}
		reg, err := court.ParseRegionCode(v)
		if err != nil {
			return w, fmt.Errorf("%w: recommend.court_regions.%s: %v", ErrConfig, k, err)
		}
		if _, dup := w.CourtRegions[c]; dup {
			return w, fmt.Errorf("%w: recommend.court_regions: %s is given twice (as %s)", ErrConfig, c, k)
		}
		if w.CourtRegions == nil {
			w.CourtRegions = map[court.CourtCode]court.RegionCode{}
		}
		w.CourtRegions[c] = reg
	}
	return w, nil
}

// Duration is a time.Duration written as "10s" in the file.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DefaultConfigText is what `courtmesh init` writes.
const DefaultConfigText = `# courtmesh node configuration. Every field is optional; the default is
# given in the comment. Unknown keys are an error.
version = 1

# libp2p listen addresses (default ["/ip4/0.0.0.0/tcp/4701"])
# listen = ["/ip4/0.0.0.0/tcp/4701"]

# peers to keep connected to, with /p2p/<peer id> (default none)
# bootstrap = ["/ip4/10.1.2.3/tcp/4701/p2p/12D3Koo..."]

# local API on loopback (default "127.0.0.1:4780"; "off" leaves only the Unix socket)
# api_listen = "127.0.0.1:4780"

# libp2p private-network pre-shared key file (default none)
# psk_file = "/etc/courtmesh/mesh.psk"

# how often bootstrap peers are redialled (default "10s")
# reconnect_interval = "10s"

# "text" or "json" (default "text")
# log_format = "text"

# how often the record log head is announced and compared (default "30s")
# sync_interval = "30s"

# the deadlines this court writes into its transfer decisions: days to
# accept after the decision, to hand over after the acceptance, to file
# after the handover; months to investigate and to conclude after filing
# acceptance_days = 7
# handover_days = 7
# filing_days = 7
# investigation_months = 1
# conclusion_months = 6
# return_days = 15
# supplement_days = 30
# days this court, as a superior, answers an applicant's request within
# request_answer_days = 15

# Prometheus metrics listener (default "127.0.0.1:4790"; "off" to disable)
# metrics_listen = "127.0.0.1:4790"

# refuse a handover while an active measure expires within this many days (default 30)
# handover_guard_days = 30

# how often the signed heartbeat (version, peers, bundle, audit log head,
# transfer counts) is published; silent after three intervals (default "30s")
# heartbeat_interval = "30s"

# how far a node's clock may differ from this node's (its heartbeats' dates)
# before a clock_skew alert names its court; also how this node judges its
# own clock against its peers' (default "2m")
# clock_skew_tolerance = "2m"

# post every new alert as JSON to this URL, e.g. the operators' ticketing
# system (default none)
# webhook_url = "https://ops.example.court/courtmesh/alerts"

# the folder case exports through the node are written under: an absolute
# path outside the data directory (default none: exports through the node
# are refused until it is set; every export and every case show is audited)
# exports_dir = "/srv/courtmesh-exports"

# the party service (status page and complaints for the parties), behind
# the court's public portal (default off)
# party_listen = "127.0.0.1:4800"
# party_contact = "执行局 010-00000000"
# complaint_answer_days = 15

# free space kept on the data directory's disk: imports and fetches are
# refused (disk_full alert) before they would leave less, so that the store
# can always commit and the audit log append (default "256MiB")
# disk_reserve = "256MiB"

# where the sealed chunks of dossiers are kept: "local" (packs and files
# under store/chunks, the default) or "s3", an S3-compatible object store
# (MinIO, Ceph RGW, a cloud's). The bucket must exist. Credentials from
# credentials_file (mode 0600: access_key = "...", secret_key = "...") or
# from COURTMESH_S3_ACCESS_KEY and COURTMESH_S3_SECRET_KEY in the
# environment; never on the command line.
# [chunk_store]
# kind = "s3"
# endpoint = "s3.court.example:9000"
# tls = true
# bucket = "courtmesh"
# prefix = "court-1101/"
# credentials_file = "/etc/courtmesh/s3.credentials"

# the weights of the receiver recommendation (courtmesh transfer recommend;
# score = sum of the factors' points; see node/advice). 0 switches a factor off.
# [recommend]
# assets = 4          # x (asset value share in the candidate's district + half the share in its city)
# near = 1            # subtracted for the same city as the origin, and again as the debtor
# exclude_local = true # 指令执行: exclude the origin's and the debtor's own district
# load = 2            # x open/(open+load_half): received cases not concluded
# overdue = 1         # x overdue/(overdue+load_half)
# load_half = 10
# track = 4           # x gains over the priors of: accepted in time 0.8, concluded within 6 months 0.5, recovery 0.3
# prior_cases = 5     # cases of that neutral record a court's own is smoothed with
# lapse = 2           # x lapsed/(lapsed+1): measures lapsed during handovers to it
# exclude = []        # court codes never recommended
# court_regions = {}  # the region (division code) a court serves where its code names none
#                     # (specialised courts 71-99, 军, 兵) or the wrong one: { "京71" = "110105" }
`

// ErrConfig marks a configuration error: a bad file, key, flag or
// environment value. Kind invalid: fix the configuration.
var ErrConfig = court.Errorf(court.ErrInvalid, "bad configuration")

// Load reads the config file of d. A missing file is the default
// configuration; a file with unknown keys or a wrong version is an error.
func Load(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		c.Version = ConfigVersion
		return c.WithDefaults(), nil
	}
	if err != nil {
		return c, err
	}
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&c)
	if err != nil {
		return c, fmt.Errorf("%s: %w: %v", path, ErrConfig, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return c, fmt.Errorf("%s: %w: unknown key(s) %s", path, ErrConfig, strings.Join(keys, ", "))
	}
	if c.Version != ConfigVersion {
		return c, fmt.Errorf("%s: %w: version %d, this build reads version %d", path, ErrConfig, c.Version, ConfigVersion)
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("%s: %w: log_format %q is neither text nor json", path, ErrConfig, c.LogFormat)
	}
	if c.WebhookURL != "" {
		if _, err := dashboard.ParseWebhookURL(c.WebhookURL); err != nil {
			return c, fmt.Errorf("%s: %w: %v", path, ErrConfig, err)
		}
	}
	if c.ExportsDir != "" && !filepath.IsAbs(c.ExportsDir) {
		return c, fmt.Errorf("%s: %w: exports_dir %q is not an absolute path", path, ErrConfig, c.ExportsDir)
	}
	if _, err := c.Recommend.Weights(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.HeartbeatInterval.Duration < 0 {
		return c, fmt.Errorf("%s: %w: heartbeat_interval %s is negative", path, ErrConfig, c.HeartbeatInterval.Duration)
	}
	switch c.ChunkStore.Kind {
	case "", "local":
	case "s3":
		if c.ChunkStore.Endpoint == "" || c.ChunkStore.Bucket == "" {
			return c, fmt.Errorf("%s: %w: chunk_store of kind s3 needs endpoint and bucket", path, ErrConfig)
		}
	default:
		return c, fmt.Errorf("%s: %w: chunk_store.kind %q is neither local nor s3", path, ErrConfig, c.ChunkStore.Kind)
	}
	if c.ComplaintAnswerDays < 0 || c.ComplaintAnswerDays > 365 {
		return c, fmt.Errorf("%s: %w: complaint_answer_days %d is not between 1 and 365", path, ErrConfig, c.ComplaintAnswerDays)
	}
	if c.PartyListen != "" {
		if _, _, err := net.SplitHostPort(c.PartyListen); err != nil {
			return c, fmt.Errorf("%s: %w: party_listen %q is not host:port: %v", path, ErrConfig, c.PartyListen, err)
		}
	}
	if _, err := c.CheckBackRule(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.ClockSkewTolerance.Duration < 0 {
		return c, fmt.Errorf("%s: %w: clock_skew_tolerance %s is negative", path, ErrConfig, c.ClockSkewTolerance.Duration)
	}
	return c.WithDefaults(), nil
}

func (c Config) WithDefaults() Config {
	if len(c.Listen) == 0 {
		c.Listen = []string{"/ip4/0.0.0.0/tcp/4701"}
	}
	if c.APIListen == "" {
		c.APIListen = "127.0.0.1:4780"
	}
	if c.ReconnectInterval.Duration == 0 {
		c.ReconnectInterval.Duration = 10 * time.Second
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.SyncInterval.Duration == 0 {
		c.SyncInterval.Duration = 30 * time.Second
	}
	if c.AcceptanceDays == 0 {
		c.AcceptanceDays = 7
	}
	if c.HandoverDays == 0 {
		c.HandoverDays = 7
	}
	if c.FilingDays == 0 {
		c.FilingDays = 7
	}
	if c.InvestigationMonths == 0 {
		c.InvestigationMonths = 1
	}
	if c.ConclusionMonths == 0 {
		c.ConclusionMonths = 6
	}
	if c.ReturnDays == 0 {
		c.ReturnDays = 15
	}
	if c.SupplementDays == 0 {
		c.SupplementDays = 30
	}
	if c.RequestAnswerDays == 0 {
		c.RequestAnswerDays = 15
	}
	if c.MetricsListen == "" {
		c.MetricsListen = "127.0.0.1:4790"
	}
	if c.ComplaintAnswerDays == 0 {
		c.ComplaintAnswerDays = 15
	}
	if c.HandoverGuardDays == 0 {
		c.HandoverGuardDays = 30
	}
	if c.HeartbeatInterval.Duration == 0 {
		c.HeartbeatInterval.Duration = 30 * time.Second
	}
	if c.ClockSkewTolerance.Duration == 0 {
		c.ClockSkewTolerance.Duration = 2 * time.Minute
	}
	if !c.DiskReserve.Set {
		c.DiskReserve = Bytes{N: storage.DefaultReserve, Set: true}
	}
	return c
}
