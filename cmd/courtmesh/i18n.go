package main

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message/catalog"
)

// The command line speaks Chinese or English. Every message it prints (the
// verb table, every flag's help, the errors and messages of the commands)
// is written in the code in English, which is its key in the message
// catalogue (messages.go); the catalogue holds both languages for every
// key, and TestMessagesHaveBothLanguages checks that every key the code
// uses is there in both.
//
// Formatting is Go's fmt on the format the catalogue gives back, not
// message.Printer's: the printer groups digits by locale ("serial
// 12,345"), which would change lines that scripts and tests read.
//
// The language is chosen once, by main, from the locale (msgLang); tests
// that call run in-process get English, the default.

// msgLang is the language of the messages, set once by main before any
// command runs and read only afterwards.
var msgLang = language.English

// msgCatalog holds the catalogue in both languages, built from messages.
var msgCatalog = buildCatalog(messages)

// buildCatalog makes the catalogue of pairs.
func buildCatalog(pairs []msgPair) *catalog.Builder {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	for _, p := range pairs {
		// SetString fails only on an unparsable message; a plain string
		// always parses.
		if err := b.SetString(language.English, p.en, p.en); err != nil {
			panic(err)
		}
		if err := b.SetString(language.Chinese, p.en, p.zh); err != nil {
			panic(err)
		}
	}
	return b
}

// msgPair is one message: the English text (also its key) and the
// Chinese.
type msgPair struct{ en, zh string }

// pickLang chooses the language of the messages from the POSIX locale:
// the first of LC_ALL, LC_MESSAGES and LANG that is set decides, Chinese
// for zh (zh_CN.UTF-8, zh_TW, zh), English for any other locale. With no
// locale chosen (none set, or C / POSIX, as in most containers) it is
// English, except for the demo, which speaks Chinese unless asked
// otherwise.
func pickLang(getenv func(string) string, args []string) language.Tag {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		loc := getenv(v)
		if loc == "" {
			continue
		}
		name, _, _ := strings.Cut(loc, ".")
		name, _, _ = strings.Cut(name, "@")
		if name == "zh" || strings.HasPrefix(name, "zh_") || strings.HasPrefix(name, "zh-") {
			return language.Chinese
		}
		if name != "C" && name != "POSIX" {
			return language.English
		}
		break // C or POSIX: no language chosen
	}
	if len(args) > 0 && args[0] == "demo" {
		return language.Chinese
	}
	return language.English
}

// localize returns the message for key in lang: the catalogue's text, or
// key itself if the catalogue lacks it (the test fails such a key).
func localize(lang language.Tag, key string) string {
	var r capture
	if err := msgCatalog.Context(lang, &r).Execute(key); err != nil || !r.done {
		return key
	}
	return r.s
}

// capture receives a catalogue message as it is, for fmt to format.
type capture struct {
	s    string
	done bool
}

func (r *capture) Render(s string) { r.s += s; r.done = true }
func (r *capture) Arg(int) any     { return nil }

// inLang is zh or en, whichever is the language of the messages: for
// text that carries both itself.
func inLang(zh, en string) string {
	if msgLang == language.Chinese {
		return zh
	}
	return en
}

// T is the message for key in the language of the messages.
func T(key string) string { return localize(msgLang, key) }

// sprintf formats the message for key.
func sprintf(key string, a ...any) string { return fmt.Sprintf(T(key), a...) }

// fprintf writes the message for key, formatted, to w.
func fprintf(w io.Writer, key string, a ...any) { fmt.Fprintf(w, T(key), a...) }

// fprintln writes the message for key and a newline to w.
func fprintln(w io.Writer, key string) { fmt.Fprintln(w, T(key)) }

// errorf is fmt.Errorf on the message for key: %w wraps as there, so an
// error keeps its kind whatever the language.
func errorf(key string, a ...any) error { return fmt.Errorf(T(key), a...) }

// usagef is errorf for a command line that is wrong in a way the command
// explains itself (a missing argument, one case where two are needed):
// its text is printed, and the exit status is the usage one, as for a
// bad flag (errUsage, whose usage text the flag package printed).
func usagef(key string, a ...any) error { return usageError{fmt.Errorf(T(key), a...)} }

// usageError is what usagef returns.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// localFlags makes fs speak the language of the messages: its usage
// ("Usage of courtmesh case list:" and every flag's help, from the
// catalogue) and the flag package's own parse errors.
func localFlags(fs *flag.FlagSet) {
	fs.SetOutput(flagOutput{fs.Output()})
	fs.Usage = func() {
		fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		printDefaults(fs)
	}
}

// printDefaults is flag.PrintDefaults with the help of each flag and the
// "(default …)" note in the language of the messages.
func printDefaults(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		var b strings.Builder
		fmt.Fprintf(&b, "  -%s", f.Name)
		g := *f
		g.Usage = T(f.Usage)
		name, usage := flag.UnquoteUsage(&g)
		if name != "" {
			b.WriteString(" " + name)
		}
		if b.Len() <= 4 { // a one-letter flag with no argument: help on the same line
			b.WriteString("\t")
		} else {
			b.WriteString("\n    \t")
		}
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if !zeroDefault(f) {
			if isStringFlag(f) {
				fprintf(&b, " (default %q)", f.DefValue)
			} else {
				fprintf(&b, " (default %v)", f.DefValue)
			}
		}
		fmt.Fprint(fs.Output(), b.String(), "\n")
	})
}

// zeroDefault reports whether a flag's default is its type's zero value
// (flag.PrintDefaults does not print those).
func zeroDefault(f *flag.Flag) (zero bool) {
	typ := reflect.TypeOf(f.Value)
	var z reflect.Value
	if typ.Kind() == reflect.Pointer {
		z = reflect.New(typ.Elem())
	} else {
		z = reflect.Zero(typ)
	}
	defer func() {
		if recover() != nil { // a Value whose zero String panics: print the default
			zero = false
		}
	}()
	return f.DefValue == z.Interface().(flag.Value).String()
}

// isStringFlag reports whether f was made by String or StringVar, whose
// default flag.PrintDefaults quotes.
func isStringFlag(f *flag.Flag) bool {
	return reflect.TypeOf(f.Value).String() == "*flag.stringValue"
}

// flagErrors are the flag package's parse errors, which it prints itself
// before the usage.
var flagErrors = []*regexp.Regexp{
	regexp.MustCompile(`^(bad flag syntax): (.*)$`),
	regexp.MustCompile(`^(flag provided but not defined): -(.*)$`),
	regexp.MustCompile(`^(invalid boolean value) (".*") for -([^:]*): (.*)$`),
	regexp.MustCompile(`^(invalid boolean flag) ([^:]*): (.*)$`),
	regexp.MustCompile(`^(flag needs an argument): -(.*)$`),
	regexp.MustCompile(`^(invalid value) (".*") for flag -([^:]*): (.*)$`),
}

// flagOutput is a flag set's output: it translates the flag package's
// error lines and passes everything else through.
type flagOutput struct{ w io.Writer }

func (o flagOutput) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	if msgLang != language.English && !strings.Contains(line, "\n") {
		for _, re := range flagErrors {
			m := re.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var s string
			switch m[1] {
			case "bad flag syntax":
				s = sprintf("bad flag syntax: %s", m[2])
			case "flag provided but not defined":
				s = sprintf("flag provided but not defined: -%s", m[2])
			case "invalid boolean value":
				s = sprintf("invalid boolean value %s for -%s: %s", m[2], m[3], m[4])
			case "invalid boolean flag":
				s = sprintf("invalid boolean flag %s: %s", m[2], m[3])
			case "flag needs an argument":
				s = sprintf("flag needs an argument: -%s", m[2])
			case "invalid value":
				s = sprintf("invalid value %s for flag -%s: %s", m[2], m[3], m[4])
			}
			if _, err := io.WriteString(o.w, s+"\n"); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return o.w.Write(p)
}
