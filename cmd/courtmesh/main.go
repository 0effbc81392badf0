// Command courtmesh runs a court's node in the courtmesh mesh and is the
// command line for everything around it: keys, certificates, cases,
// transfers, the demo. See `courtmesh help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	msgLang = pickLang(os.Getenv, os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	status := exitStatus(err) // 0 for a command's -h: its flags were printed
	if status != 0 {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "courtmesh:", err)
		}
		os.Exit(status)
	}
}

// errUsage marks an error whose usage text has already been printed.
var errUsage = errors.New("usage")

// cli carries what every command gets.
type cli struct {
	stdout, stderr io.Writer
	stdin          io.Reader // for secrets a command reads rather than take as a flag (nil: nothing to read)
	// now is the clock of the commands that read one (the demo: its
	// nodes, data and case numbers); nil means time.Now. Only tests set
	// it, to play the story in another year.
	now func() time.Time
}

// clock is c's clock: c.now, or time.Now.
func (c *cli) clock() func() time.Time {
	if c.now != nil {
		return c.now
	}
	return time.Now
}

// command is one subcommand. A command with subs dispatches on its first
// argument.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
	subs    []*command
}

// commands is the table of top-level commands; each file adds its own in
// an init function, so that a feature's command lives beside its code.
var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("courtmesh: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &cli{stdout: stdout, stderr: stderr, stdin: os.Stdin}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return errorf("unknown command %q", args[0])
	}
	return dispatch(ctx, c, cmd, []string{args[0]}, args[1:])
}

func dispatch(ctx context.Context, c *cli, cmd *command, path, args []string) error {
	if len(cmd.subs) == 0 {
		return cmd.run(ctx, c, args)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		subUsage(c.stdout, path, cmd)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, s := range cmd.subs {
		if s.name == args[0] {
			return dispatch(ctx, c, s, append(path, s.name), args[1:])
		}
	}
	subUsage(c.stderr, path, cmd)
	return errorf("unknown command %q", strings.Join(append(path, args[0]), " "))
}

func usage(w io.Writer) {
	fprintln(w, "courtmesh: the court-to-court mesh for cross-execution (交叉执行)")
	fprintln(w, "\nUsage: courtmesh COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, T(commands[n].summary))
	}
	fprintln(w, "\nRun 'courtmesh COMMAND -h' for a command's flags.")
}

func subUsage(w io.Writer, path []string, cmd *command) {
	fprintf(w, "Usage: courtmesh %s SUBCOMMAND [flags]\n\n", strings.Join(path, " "))
	for _, s := range cmd.subs {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, T(s.summary))
	}
}
