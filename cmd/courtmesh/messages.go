package main

// messages is the catalogue: every message of the command line, in English
// (its key) and Chinese. Domain terms as ../shared/DOMAIN.md has them.
// A format's verbs are the same in both; the Chinese may reorder its
// arguments with explicit indexes (%[2]s).
var messages = []msgPair{
	{"the node's data directory (holds enc.key, store.key and store/)", "节点的数据目录（存放 enc.key、store.key 和 store/）"},
}
