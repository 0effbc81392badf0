// Package datadir is a node's data directory: the file names in it, the
// keys and public identity written by Init, the national root and trust
// bundle written by InstallTrust, the local API token, and the one
// crash-safe way to write a file there (WriteFileAtomic: temporary file,
// fsync, rename, fsync of the directory). It starts nothing.
package datadir
