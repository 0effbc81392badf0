package main

import (
	"bufio"
	"context"
	"flag"
	"os"
)

func init() {
	register(&command{name: "backup", summary: "write a full backup of the store, sealed for the node's enc.key", run: runBackup})
	register(&command{name: "restore", summary: "restore a backup into an empty store", run: runRestore})
}

// newFlagSet is newFlags without --data.
func newFlagSet(c *cli, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("courtmesh "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	localFlags(fs)
	return fs
}

func runBackup(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "backup")
	out := fs.String("out", "", "backup file to create (must not exist)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fprintln(c.stderr, "usage: courtmesh backup --data DIR --out FILE")
		return errUsage
	}
	path, err := absPath(*out)
	if err != nil {
		return err
	}
	st, err := openCases(*data, false)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.Backup(ctx, path)
	if err != nil {
		return err
	}
	fprintf(c.stdout, "backup written to %s (%d bytes); sealed for this node's enc.key: keep a copy of enc.key elsewhere, without it the backup cannot be restored\n", res.Out, res.Bytes)
	return nil
}

func runRestore(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "restore")
	in := fs.String("in", "", "backup file written by courtmesh backup")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" {
		fprintln(c.stderr, "usage: courtmesh restore --data DIR --in FILE")
		return errUsage
	}
	if *data != "" && nodeRunning(*data) {
		return errorf("the node of %s is running: restore writes the store directly and only into a new, empty one; stop the node (or restore into a new data directory) and run restore again", *data)
	}
	f, err := os.Open(*in)
	if err != nil {
		return errorf("restore: %w", err)
	}
	defer f.Close()
	db, err := openStore(*data, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Restore(ctx, bufio.NewReaderSize(f, 1<<20)); err != nil {
		return err
	}
	cases, err := db.Cases(ctx, "")
	if err != nil {
		return err
	}
	fprintf(c.stdout, "restored %d cases into %s\n", len(cases), *data)
	return nil
}
