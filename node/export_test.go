package node

// BypassGaterForTest lets every connection through the gater so that a
// test can show the per-stream checks hold on their own.
func BypassGaterForTest(o *Options) { o.bypassGater = true }
