package scalegen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage"
)

// CacheEnv names the environment variable that overrides the cache folder.
const CacheEnv = "COURTMESH_SCALE_CACHE"

// manifestFile marks a complete cached directory and describes it.
const manifestFile = "scalegen.json"

// Manifest describes a generated data directory.
type Manifest struct {
	Version   int            `json:"version"`   // the generator's Version
	N         int            `json:"n"`         // transfers
	Courts    int            `json:"courts"`    // len(Courts())
	States    map[string]int `json:"states"`    // transfers per state
	Now       time.Time      `json:"now"`       // Now
	Generated time.Duration  `json:"generated"` // how long generation took
}

// CacheDir returns the cache folder: $COURTMESH_SCALE_CACHE, else
// os.UserCacheDir()/courtmesh-scale.
func CacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", court.Errorf(court.ErrUnavailable, "no cache folder for the scale fixtures (%v); set %s", err, CacheEnv)
	}
	return filepath.Join(d, "courtmesh-scale"), nil
}

// Cached returns the cached data directory holding n transfers (store.key
// and store/), generating it first if absent. Treat it as read-only: copy
// it with Prepare before opening it.
func Cached(ctx context.Context, n int, log *slog.Logger) (string, Manifest, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if n <= 0 {
		return "", Manifest{}, court.Errorf(court.ErrInvalid, "scale fixture of %d transfers: want at least 1", n)
	}
	return cached(fmt.Sprintf("v%d-n%d-l%s", Version, n, layout()), func(tmp string) (Manifest, error) {
		log.Info("generating scale fixture", "transfers", n)
		start := time.Now()
		db, err := storage.Open(tmp, storage.Options{})
		if err != nil {
			return Manifest{}, err
		}
		states, err := Fill(ctx, db, n)
		if err == nil {
			// Compact as a long-running node's store would be, so that reads
			// do not measure the bulk load's leftover level-0 tables.
			err = db.Badger().Flatten(2)
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Manifest{}, fmt.Errorf("generate scale fixture of %d transfers: %w", n, err)
		}
		m := Manifest{Version: Version, N: n, Courts: len(Courts()), States: states, Now: Now, Generated: time.Since(start)}
		log.Info("generated scale fixture", "transfers", n, "took", m.Generated)
		return m, nil
	})
}

// layout names the Badger options that shape the files of a store
// (storage.BadgerOptions): a fixture written under others has tables of
// other sizes and blocks, which is what the start and read rows measure,
// so a change of them is a new cache entry as a new Version is.
func layout() string {
	o := storage.BadgerOptions("", nil, nil, false)
	sum := sha256.Sum256(fmt.Appendf(nil, "memtable %d tables %d/%d levels %d/%d/%d l0 %d/%d block %d bloom %g compression %d/%d value %d",
		o.MemTableSize, o.BaseTableSize, o.TableSizeMultiplier, o.BaseLevelSize, o.LevelSizeMultiplier, o.MaxLevels,
		o.NumLevelZeroTables, o.NumLevelZeroTablesStall, o.BlockSize, o.BloomFalsePositive, o.Compression, o.ZSTDCompressionLevel, o.ValueThreshold))
	return hex.EncodeToString(sum[:4])
}

// cached returns the cache folder's directory name, building it with
// build in a temporary directory first if it is absent. A directory
// holding a current manifest is complete.
func cached(name string, build func(tmp string) (Manifest, error)) (string, Manifest, error) {
	root, err := CacheDir()
	if err != nil {
		return "", Manifest{}, err
	}
	dir := filepath.Join(root, name)
	if m, err := readManifest(dir); err == nil {
		return dir, m, nil
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", Manifest{}, fmt.Errorf("scale cache: %w", err)
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(root, "tmp-"+name+"-"+hex.EncodeToString(suffix[:]))
	defer os.RemoveAll(tmp)
	m, err := build(tmp)
	if err != nil {
		return "", Manifest{}, err
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, manifestFile), b, 0o600); err != nil {
		return "", Manifest{}, err
	}
	os.RemoveAll(dir) // an incomplete directory from an interrupted run
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have finished first.
		if m2, err2 := readManifest(dir); err2 == nil {
			return dir, m2, nil
		}
		return "", Manifest{}, fmt.Errorf("scale cache: %w", err)
	}
	return dir, m, nil
}

// Derived is work a layer above storage does once on a fixture before
// using it (such as computing the statistics only the node knows how to
// compute), cached beside the fixture under Key.
type Derived struct {
	// Key names the work and its version: a new Key is a new cache entry.
	Key string
	// Run does it on the data directory dir, a private copy of the
	// fixture.
	Run func(ctx context.Context, dir string) error
}

// PrepareDerived is Prepare of the fixture of n transfers after d.Run,
// which runs once per d.Key and fixture: its result is cached.
func PrepareDerived(ctx context.Context, n int, dst string, log *slog.Logger, d Derived) (Manifest, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, _, err := Cached(ctx, n, log)
	if err != nil {
		return Manifest{}, err
	}
	sum := sha256.Sum256([]byte(d.Key))
	dir, m, err := cached(fmt.Sprintf("v%d-n%d-l%s-%x", Version, n, layout(), sum[:6]), func(tmp string) (Manifest, error) {
		m, err := readManifest(base)
		if err != nil {
			return m, err
		}
		if err := copyTree(base, tmp); err != nil {
			return m, err
		}
		log.Info("preparing scale fixture", "transfers", n, "for", d.Key)
		if err := d.Run(ctx, tmp); err != nil {
			return m, fmt.Errorf("scale fixture of %d transfers, %s: %w", n, d.Key, err)
		}
		return m, nil
	})
	if err != nil {
		return m, err
	}
	return m, copyTree(dir, dst)
}

func readManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Version != Version {
		return m, errors.New("stale or unreadable manifest")
	}
	return m, nil
}

// Prepare copies the cached data directory of n transfers (generating it
// if needed) to dst, which must not exist or be empty, and returns its
// manifest. Open dst with storage.Open.
func Prepare(ctx context.Context, n int, dst string, log *slog.Logger) (Manifest, error) {
	src, m, err := Cached(ctx, n, log)
	if err != nil {
		return m, err
	}
	return m, copyTree(src, dst)
}

// copyTree copies the regular files and directories under src to dst,
// keeping their modes.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		if !info.Mode().IsRegular() || rel == manifestFile {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
