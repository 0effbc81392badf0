// Package config is a node's configuration: the versioned config.toml
// (unknown keys are an error, a missing file is the defaults, a bad file
// is ErrConfig naming the key), its defaults, and the environment and
// command-line overrides (COURTMESH_<KEY>, --set key=value). It holds no
// state and starts nothing.
package config
