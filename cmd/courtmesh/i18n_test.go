package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/language"
)

// TestMessagesHaveBothLanguages: every message of the command line is in
// the catalogue in English and Chinese, with the same format verbs for
// the same arguments; and the messages are found from the code, not from
// a list: every key the code hands to the translating functions (T,
// sprintf, fprintf, fprintln, errorf, the demo's say and ok), every
// command's summary and every flag's help must be in the catalogue, and
// the code may not print or return text of its own (fmt.Errorf,
// errors.New, fmt.Fprintf ... with words in them) past the catalogue. So
// a new message without its translation fails here. No entry of the
// catalogue is unused.
func TestMessagesHaveBothLanguages(t *testing.T) {
	cat := map[string]string{}
	for _, m := range messages {
		if m.en == "" || m.zh == "" {
			t.Errorf("catalogue entry %q / %q: a language is empty", m.en, m.zh)
			continue
		}
		if _, dup := cat[m.en]; dup {
			t.Errorf("catalogue entry %q twice", m.en)
		}
		cat[m.en] = m.zh
		if !hasCJK(m.zh) {
			t.Errorf("catalogue entry %q: the Chinese %q has no Chinese in it", m.en, m.zh)
		}
		if ev, zv := formatVerbs(m.en), formatVerbs(m.zh); !maps.Equal(ev, zv) {
			t.Errorf("catalogue entry %q: verbs %v, but the Chinese %q has %v", m.en, ev, m.zh, zv)
		}
		if strings.Count(m.en, "\t") != strings.Count(m.zh, "\t") || strings.Count(m.en, "\n") != strings.Count(m.zh, "\n") {
			t.Errorf("catalogue entry %q: the Chinese %q has other tabs or lines (columns)", m.en, m.zh)
		}
		if eb, zb := backquoted(m.en), backquoted(m.zh); !slices.Equal(eb, zb) {
			t.Errorf("catalogue entry %q: flag argument names %v, but the Chinese %q has %v", m.en, eb, m.zh, zb)
		}
		if got := localize(language.Chinese, m.en); got != m.zh {
			t.Errorf("localize(zh, %q) = %q, want %q", m.en, got, m.zh)
		}
		if got := localize(language.English, m.en); got != m.en {
			t.Errorf("localize(en, %q) = %q, want it unchanged", m.en, got)
		}
	}

	uses, raw := codeMessages(t)
	if len(uses) < 100 {
		t.Fatalf("found only %d messages in the code: the scan is broken", len(uses))
	}
	var missing []string
	for _, u := range uses {
		if _, ok := cat[u.key]; !ok && wordRE.MatchString(u.key) { // a format of verbs alone needs no translation
			missing = append(missing, u.pos+": "+strconv.Quote(u.key))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d messages lack a catalogue entry (messages.go):\n%s", len(missing), strings.Join(missing, "\n"))
	}
	for _, r := range raw {
		t.Errorf("%s: %s prints or returns text past the catalogue: %q (use T, sprintf, fprintf, fprintln or errorf)", r.pos, r.fn, r.key)
	}
	// Every verb's flags, from the verbs themselves: each runs with -h,
	// and the help of every flag it prints must be a catalogue key.
	var verbs [][]string
	var walk func(path []string, cmd *command)
	walk = func(path []string, cmd *command) {
		if len(cmd.subs) == 0 {
			verbs = append(verbs, path)
		}
		for _, s := range cmd.subs {
			walk(append(slices.Clip(path), s.name), s)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		walk([]string{name}, commands[name])
	}
	// A help as printed: flag.UnquoteUsage drops the first back quotes; a
	// help made with sprintf matches its key's pattern.
	printed := map[string]bool{}
	var patterns []*regexp.Regexp
	for _, m := range messages {
		printed[m.en] = true
		printed[strings.Replace(m.en, "`", "", 2)] = true
		if len(formatVerbs(m.en)) > 0 {
			patterns = append(patterns, regexp.MustCompile("^"+verbRE.ReplaceAllString(regexp.QuoteMeta(m.en), ".*")+"$"))
		}
	}
	isPrinted := func(help string) bool {
		if printed[help] {
			return true
		}
		for _, re := range patterns {
			if re.MatchString(help) {
				return true
			}
		}
		return false
	}
	helps := 0
	for _, path := range verbs {
		out, err := runCLI(t, append(slices.Clip(path), "-h")...)
		if exitStatus(err) != 0 {
			t.Errorf("courtmesh %s -h: %v\n%s", strings.Join(path, " "), err, out)
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			help, ok := strings.CutPrefix(line, "    \t")
			if m := oneLetterFlag.FindStringSubmatch(line); m != nil {
				help, ok = m[1], true
			}
			if !ok {
				continue
			}
			helps++
			if isPrinted(help) {
				continue
			}
			if m := defaultNote.FindStringSubmatch(help); m != nil && isPrinted(m[1]) {
				continue
			}
			t.Errorf("courtmesh %s -h: the help %q is not in the catalogue", strings.Join(path, " "), help)
		}
	}
	if len(verbs) < 50 || helps < 200 {
		t.Errorf("ran %d verbs with -h and read %d flag helps: the walk is broken", len(verbs), helps)
	}

	used := map[string]bool{}
	for _, u := range uses {
		used[u.key] = true
	}
	for _, m := range messages {
		if !used[m.en] {
			t.Errorf("catalogue entry %q is used nowhere in the code", m.en)
		}
	}
}

// TestPickLang: the locale variables choose the language, in POSIX order;
// with no locale chosen the demo speaks Chinese and the rest English.
func TestPickLang(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want language.Tag
	}{
		{nil, []string{"case"}, language.English},
		{nil, []string{"demo"}, language.Chinese},
		{map[string]string{"LANG": "C.UTF-8"}, []string{"demo", "--once"}, language.Chinese},
		{map[string]string{"LANG": "C.UTF-8"}, []string{"status"}, language.English},
		{map[string]string{"LANG": "zh_CN.UTF-8"}, []string{"status"}, language.Chinese},
		{map[string]string{"LANG": "zh_TW"}, nil, language.Chinese},
		{map[string]string{"LANG": "en_US.UTF-8"}, []string{"demo"}, language.English},
		{map[string]string{"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}, nil, language.English},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.GB18030"}, nil, language.Chinese},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.UTF-8", "LC_MESSAGES": "en_US"}, nil, language.Chinese},
		{map[string]string{"LC_ALL": "POSIX", "LANG": "zh_CN.UTF-8"}, nil, language.English},
	}
	for _, tt := range tests {
		if got := pickLang(func(k string) string { return tt.env[k] }, tt.args); got != tt.want {
			t.Errorf("pickLang(%v, %v) = %v, want %v", tt.env, tt.args, got, tt.want)
		}
	}
}

// TestHelpSpeaksChinese: with LANG=zh_CN.UTF-8 the real binary's help,
// a command's subcommands, a command's flags and an error are in
// Chinese; with the locale of CI (or none, or English) they are the
// English lines scripts and tests read.
func TestHelpSpeaksChinese(t *testing.T) {
	e := sharedE2E(t)
	runEnv := func(lang string, args ...string) string {
		t.Helper()
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "LANG=") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANGUAGE=") {
				env = append(env, kv)
			}
		}
		if lang != "" {
			env = append(env, "LANG="+lang)
		}
		cmd := exec.Command(e.bin, args...)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	zhHelp := runEnv("zh_CN.UTF-8", "--help")
	for _, want := range []string{
		T2zh("courtmesh: the court-to-court mesh for cross-execution (交叉执行)"),
		T2zh("\nRun 'courtmesh COMMAND -h' for a command's flags."),
		"  transfer   " + T2zh(commands["transfer"].summary),
		"  demo       " + T2zh(commands["demo"].summary),
	} {
		if !strings.Contains(zhHelp, strings.TrimPrefix(want, "\n")) {
			t.Errorf("LANG=zh_CN.UTF-8 courtmesh --help lacks %q:\n%s", want, zhHelp)
		}
	}
	if strings.Contains(zhHelp, "Run 'courtmesh COMMAND -h'") || strings.Contains(zhHelp, commands["transfer"].summary) {
		t.Errorf("LANG=zh_CN.UTF-8 courtmesh --help still speaks English:\n%s", zhHelp)
	}
	for _, lang := range []string{"", "C.UTF-8", "en_US.UTF-8"} {
		out := runEnv(lang, "--help")
		if !strings.HasPrefix(out, "courtmesh: the court-to-court mesh for cross-execution (交叉执行)\n") || !strings.Contains(out, "  transfer   "+commands["transfer"].summary+"\n") {
			t.Errorf("LANG=%q courtmesh --help is not the English help:\n%s", lang, out)
		}
	}

	sub := runEnv("zh_CN.UTF-8", "transfer", "--help")
	if !strings.Contains(sub, T2zh("Usage: courtmesh %s SUBCOMMAND [flags]\n\n")[:10]) || !strings.Contains(sub, T2zh(commands["transfer"].subs[0].summary)) {
		t.Errorf("LANG=zh_CN.UTF-8 courtmesh transfer --help is not Chinese:\n%s", sub)
	}
	flags := runEnv("zh_CN.UTF-8", "case", "list", "-h")
	if !strings.Contains(flags, T2zh("the node's data directory (holds enc.key, store.key and store/)")) || !strings.Contains(flags, "courtmesh case list") {
		t.Errorf("LANG=zh_CN.UTF-8 courtmesh case list -h is not Chinese:\n%s", flags)
	}
	if en := runEnv("C.UTF-8", "case", "list", "-h"); !strings.HasPrefix(en, "Usage of courtmesh case list:\n") || !strings.Contains(en, "\n  -data string\n    \tthe node's data directory (holds enc.key, store.key and store/)\n") {
		t.Errorf("LANG=C.UTF-8 courtmesh case list -h is not the English usage:\n%s", en)
	}
	unknown := runEnv("zh_CN.UTF-8", "nosuchverb")
	if want := "courtmesh: " + sprintfIn(language.Chinese, "unknown command %q", "nosuchverb"); !strings.Contains(unknown, want) {
		t.Errorf("LANG=zh_CN.UTF-8 courtmesh nosuchverb does not say %q:\n%s", want, unknown)
	}
	badFlag := runEnv("zh_CN.UTF-8", "case", "list", "--nosuchflag")
	if want := sprintfIn(language.Chinese, "flag provided but not defined: -%s", "nosuchflag"); !strings.Contains(badFlag, want) {
		t.Errorf("LANG=zh_CN.UTF-8 courtmesh case list --nosuchflag does not say %q:\n%s", want, badFlag)
	}
}

// T2zh is the Chinese of a catalogue key.
func T2zh(key string) string { return localize(language.Chinese, key) }

func sprintfIn(lang language.Tag, key string, a ...any) string {
	return fmt.Sprintf(localize(lang, key), a...)
}

// hasCJK reports whether s holds a Chinese character or full-width
// punctuation (a message of flags and verbs alone: "--suite：%w").
func hasCJK(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef)
	}) >= 0
}

// hasHan reports whether s holds a Chinese character.
func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

var verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*(\d+|\*)?(\.(\d+|\*))?(\[\d+\])?([a-zA-Z%])`)

// formatVerbs maps each argument of a format to the verb that prints it.
func formatVerbs(format string) map[int]string {
	verbs := map[int]string{}
	next := 1
	for _, m := range verbRE.FindAllStringSubmatch(format, -1) {
		if m[6] == "%" {
			continue
		}
		idx := m[1]
		if idx == "" {
			idx = m[5]
		}
		if idx != "" {
			n, _ := strconv.Atoi(strings.Trim(idx, "[]"))
			next = n
		}
		verbs[next] = m[6]
		next++
	}
	return verbs
}

var backquoteRE = regexp.MustCompile("`[^`]*`")

// backquoted is the names a flag's help puts in back quotes (flag.UnquoteUsage
// shows the first as the argument's name), in order; a quoted command
// (with spaces) is text, translated.
func backquoted(s string) []string {
	var names []string
	for _, q := range backquoteRE.FindAllString(s, -1) {
		if !strings.Contains(q, " ") {
			names = append(names, q)
		}
	}
	return names
}

// oneLetterFlag is a line of a one-letter boolean flag's help
// ("  -v\tshow the nodes' logs"); defaultNote is the note the flag
// package adds to a help.
var (
	oneLetterFlag = regexp.MustCompile("^  -[A-Za-z]\t(.*)$")
	defaultNote   = regexp.MustCompile(`^(.*) \(default [^:]*\)$`)
)

// use is a message found in the code.
type use struct{ pos, fn, key string }

// translating functions and the indexes of their key arguments: the
// functions of i18n.go, and the methods of the demo's narrator and of
// doctor's checkup (say, ok, warn, fail).
var translating = map[string][]int{"T": {0}, "sprintf": {0}, "errorf": {0}, "usagef": {0}, "fprintf": {1}, "fprintln": {1}}

var translatingMethods = map[string][]int{"say": {0}, "ok": {0}, "warn": {0, 1}, "fail": {0, 1}}

// flagHelp: the flag.FlagSet methods that define a flag, and the index of
// their help (usage) argument.
var flagHelp = map[string]int{
	"String": 2, "Bool": 2, "Int": 2, "Int64": 2, "Uint": 2, "Uint64": 2, "Float64": 2, "Duration": 2,
	"StringVar": 3, "BoolVar": 3, "IntVar": 3, "Int64Var": 3, "UintVar": 3, "Uint64Var": 3, "Float64Var": 3, "DurationVar": 3, "TextVar": 3,
	"Var": 2, "Func": 1, "BoolFunc": 1,
}

// rawPrinters print or return text; literals with words in them must not
// reach them.
var rawPrinters = map[string]bool{"fmt.Sprintf": true, "fmt.Errorf": true, "errors.New": true, "fmt.Fprintf": true, "fmt.Fprintln": true, "fmt.Fprint": true, "fmt.Printf": true, "fmt.Println": true, "fmt.Print": true}

// formatArg is the index of the format of the fmt functions that take one.
var formatArg = map[string]int{"fmt.Errorf": 0, "fmt.Sprintf": 0, "fmt.Printf": 0, "fmt.Fprintf": 1}

var wordRE = regexp.MustCompile(`[A-Za-z]{2,}|\p{Han}`)

// notMessages are literals with words that are not messages: paths,
// queries, units, the actor the audit log records for the offline CLI.
var notMessages = map[string]bool{
	"courtmesh:": true, "%d.cert": true, "/v1/trust/log-head?serial=%d": true, "&seq=%d": true,
	"offline cli (uid %d)": true, "%.2f GiB": true, "%.1f MiB": true, "%.1f KiB": true,
	"（%d）%s%s%d号": true, "%d.%02d 元": true, "京0108": true, // a case number, an amount, a court
	// command lines the demo suggests
	"  courtmesh transfer list --data %s --json\n":                         true,
	"  courtmesh evidence export --data %s TRANSFER --out evidence.json\n": true,
	"  courtmesh evidence verify evidence.json --root %s\n":                true,
}

// isTranslatingCall reports whether n is a call of a function of i18n.go
// (its result is a message already translated).
func isTranslatingCall(n ast.Node) bool {
	c, ok := n.(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := c.Fun.(*ast.Ident)
	return ok && translating[id.Name] != nil
}

// isTranslatedVar reports whether e is a variable assigned a translated
// message.
func isTranslatedVar(e ast.Expr, translated map[string]bool) bool {
	id, ok := e.(*ast.Ident)
	return ok && translated[id.Name]
}

// codeMessages parses the command's Go files (not the tests) and returns
// the messages they use and the literals they print past the catalogue.
func codeMessages(t *testing.T) (uses, raw []use) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		sentinels := map[ast.Node]bool{} // package-level errors.New: sentinels never printed
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				ast.Inspect(g, func(n ast.Node) bool {
					if c, ok := n.(*ast.CallExpr); ok {
						sentinels[c] = true
					}
					return true
				})
			}
		}
		lit := func(e ast.Expr) (string, bool) {
			b, ok := e.(*ast.BasicLit)
			if !ok || b.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(b.Value)
			return s, err == nil
		}
		// A translating function itself passes its key on.
		passOn := map[ast.Node]bool{}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if translating[fd.Name.Name] != nil || translatingMethods[fd.Name.Name] != nil {
					ast.Inspect(fd, func(n ast.Node) bool { passOn[n] = true; return true })
				}
			}
		}
		// Variables holding a message: v := T("...").
		translated := map[string]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 && isTranslatingCall(as.Rhs[0]) {
				if id, ok := as.Lhs[0].(*ast.Ident); ok {
					translated[id.Name] = true
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "summary" {
					if s, ok := lit(n.Value); ok {
						uses = append(uses, use{fset.Position(n.Pos()).String(), "summary", s})
					} else {
						raw = append(raw, use{fset.Position(n.Pos()).String(), "summary", "(not a literal)"})
					}
				}
			case *ast.CallExpr:
				pos := fset.Position(n.Pos()).String()
				var fn, pkg string
				switch f := n.Fun.(type) {
				case *ast.Ident:
					fn = f.Name
				case *ast.SelectorExpr:
					fn = f.Sel.Name
					if x, ok := f.X.(*ast.Ident); ok {
						pkg = x.Name
					}
				}
				keys := translating[fn]
				if _, sel := n.Fun.(*ast.SelectorExpr); sel {
					keys = translatingMethods[fn]
				}
				for _, i := range keys {
					if len(n.Args) <= i {
						continue
					}
					if s, ok := lit(n.Args[i]); ok {
						uses = append(uses, use{pos, fn, s})
					} else if !passOn[n] && name != "i18n.go" && !(name == "main.go" && fn == "T") && !isTranslatingCall(n.Args[i]) && !isTranslatedVar(n.Args[i], translated) {
						raw = append(raw, use{pos, fn, "(a key that is not a literal)"})
					}
				}
				if i, ok := flagHelp[fn]; ok && pkg != "" && len(n.Args) > i {
					nameArg := 0 // String(name, value, usage), Func(name, usage, fn)
					if i == 3 || fn == "Var" {
						nameArg = 1 // StringVar(p, name, value, usage), Var(value, name, usage)
					}
					_, named := lit(n.Args[nameArg])
					if s, ok := lit(n.Args[i]); ok && named {
						uses = append(uses, use{pos, "flag " + fn, s})
					}
				}
				if fn == "bilingual" && len(n.Args) == 3 {
					zh, ok1 := lit(n.Args[1])
					en, ok2 := lit(n.Args[2])
					if !ok1 || !ok2 || !hasHan(zh) || zh == en {
						raw = append(raw, use{pos, fn, "(a description not in both languages)"})
					}
				}
				if i, ok := formatArg[pkg+"."+fn]; ok && len(n.Args) > i && name != "i18n.go" && !passOn[n] {
					// A format made at run time would slip past the catalogue.
					if _, isLit := lit(n.Args[i]); !isLit && !isTranslatingCall(n.Args[i]) && !isTranslatedVar(n.Args[i], translated) {
						raw = append(raw, use{pos, pkg + "." + fn, "(a format that is not a literal)"})
					}
				}
				if rawPrinters[pkg+"."+fn] && !sentinels[n] {
					// Every literal in the arguments, but not inside a
					// call of a translating function.
					for _, a := range n.Args {
						ast.Inspect(a, func(m ast.Node) bool {
							if isTranslatingCall(m) {
								return false
							}
							if e, ok := m.(ast.Expr); ok {
								if s, ok := lit(e); ok && wordRE.MatchString(s) && !notMessages[s] {
									raw = append(raw, use{pos, pkg + "." + fn, s})
								}
							}
							return true
						})
					}
				}
			}
			return true
		})
	}
	return uses, raw
}
