package cases

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// MaxPurpose bounds the purpose of an export or a show, in characters.
const MaxPurpose = 200

// exportRule is where an export may be written: never inside the data
// directory (a plaintext dossier beside the encrypted store), and under
// the exports folder unless any folder is allowed (the offline command
// line).
type exportRule struct {
	dataDir, exportsDir string
	anyFolder           bool
}

// check resolves out (symbolic links and "..", in every existing part of
// the path) and returns the resolved folder to write, or an error of kind
// court.ErrPermission saying where exports may go.
func (r exportRule) check(out string) (string, error) {
	real, err := resolve(out)
	if err != nil {
		return "", court.Errorf(court.ErrInvalid, "out %s cannot be resolved: %v", out, err)
	}
	if r.dataDir != "" {
		data, err := resolve(r.dataDir)
		if err != nil {
			return "", fmt.Errorf("resolve the data directory %s: %w", r.dataDir, err)
		}
		if within(real, data) {
			return "", court.Errorf(court.ErrPermission, "out %s is inside the node's data directory %s (the encrypted store): a plaintext export may never be written there", out, r.dataDir)
		}
	}
	if r.anyFolder {
		return real, nil
	}
	if r.exportsDir == "" {
		return "", court.Errorf(court.ErrPermission, "exports through the node are off: set exports_dir in the node's config.toml to a folder outside the data directory and restart the node "+
			"(or stop the node and run `courtmesh case export`, which writes where you name)")
	}
	exp, err := resolve(r.exportsDir)
	if err != nil {
		return "", fmt.Errorf("resolve the exports folder %s: %w", r.exportsDir, err)
	}
	if real == exp || !within(real, exp) {
		return "", court.Errorf(court.ErrPermission, "out %s is not a folder inside the exports folder %s (exports_dir): name a new folder under it", out, r.exportsDir)
	}
	return real, nil
}

// resolve returns p (absolute) with "..", "." and the symbolic links of
// its longest existing prefix resolved; the parts that do not exist yet
// are appended as they are (they hold no link).
func resolve(p string) (string, error) {
	p = filepath.Clean(p)
	var rest []string
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

// within reports whether p is dir or inside it (both resolved).
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(os.PathSeparator)) || p == dir
}

// checkPurpose checks the purpose of an export (required) or a show: a
// short text that goes into the audit log, so without personal data.
func checkPurpose(p string, required bool) error {
	p = strings.TrimSpace(p)
	if p == "" {
		if required {
			return court.Errorf(court.ErrInvalid, "purpose is required: say why the case leaves the store (for example 移送审判庭审查, 答复当事人查询); it is written to the audit log")
		}
		return nil
	}
	if !utf8.ValidString(p) || utf8.RuneCountInString(p) > MaxPurpose {
		return court.Errorf(court.ErrInvalid, "purpose must be valid text of at most %d characters", MaxPurpose)
	}
	return cmproto.CheckFreeText("purpose", p)
}

// checkPurposeNames refuses a purpose that names a party of the case or
// holds an address or plate of its assets: it is written to the audit
// log, which is exported and witnessed.
func checkPurposeNames(p string, parties []court.Party, assets []court.Asset) error {
	names := make([]string, 0, len(parties))
	for _, pt := range parties {
		names = append(names, pt.Name)
	}
	if err := cmproto.CheckFreeTextNames("purpose", p, names); err != nil {
		return err
	}
	var places []string
	for _, a := range assets {
		places = append(places, court.Places(a.Description, a.Class)...)
	}
	return cmproto.CheckFreeTextPlaces("purpose", p, places)
}

// quotePurpose is p as the audit entry names it.
func quotePurpose(p string) string {
	if p = strings.TrimSpace(p); p == "" {
		return "(none given)"
	}
	return fmt.Sprintf("%q", p)
}

// CheckExportsDir refuses an exports folder (config exports_dir) that is
// not absolute or lies inside, or holds, the data directory: the node
// checks it at start.
func CheckExportsDir(dataDir, exportsDir string) error {
	if exportsDir == "" {
		return nil
	}
	if !filepath.IsAbs(exportsDir) {
		return court.Errorf(court.ErrInvalid, "exports_dir %q is not an absolute path", exportsDir)
	}
	exp, err := resolve(exportsDir)
	if err != nil {
		return court.Errorf(court.ErrInvalid, "exports_dir %s cannot be resolved: %v", exportsDir, err)
	}
	data, err := resolve(dataDir)
	if err != nil {
		return fmt.Errorf("resolve the data directory %s: %w", dataDir, err)
	}
	if within(exp, data) || within(data, exp) {
		return court.Errorf(court.ErrInvalid, "exports_dir %s overlaps the data directory %s: exports are plaintext and must stay outside the encrypted store; choose a folder outside it", exportsDir, dataDir)
	}
	return nil
}
