// Package dashboard is the operators' supervision view of the mesh: the
// indicators DOMAIN.md lists for cross-execution, computed from transfer
// records (every node receives every record, so any node can compute the
// whole pipeline), the mesh as heartbeats show it, and the alerts operators
// and courts must act on.
//
// The model is one value, Dashboard, computed by Compute from an Input the
// health room (node/health) assembles: the pipeline's counts from the
// store's counters, the other indicators (modes, average times, the
// per-court table) from sums the store keeps per scope at write time of
// what each transfer contributes (Contribution, defined here and
// versioned by StatsVersion), and the lapse indicator of the dossiers
// still in flight from those few transfers, so that a dashboard costs
// the same at 3,000 and at 300,000 transfers held. GET /v1/dashboard
// returns it as JSON; GET /dashboard
// renders the same value as an HTML page (Chinese by default, English on
// ?lang=en, remembered in a cookie) with server-side SVG charts and no
// script, font or style fetched from anywhere: court networks are closed.
// Every number on the page carries a data-testid attribute naming the JSON
// field it shows, so that a browser test can compare the two.
//
// A node with the operator role sees the whole mesh (scope "mesh"); any
// other node sees the transfers it takes part in and the alerts about
// itself (scope "court").
//
// Webhook delivers new alerts to an operator's URL as JSON: deduplicated,
// retried with backoff, from a bounded queue.
//
// Everything here is metadata: transfer ids, court codes, states, dates,
// amounts and counts. No party, no account, no address ever reaches this
// package.
package dashboard
