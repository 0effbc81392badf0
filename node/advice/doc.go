// Package advice ranks the courts a superior court may designate to
// receive a transferred case (指令执行), with reasons a judge can check.
//
// It is pure: Rank takes everything it weighs in an Input (the offer's
// region summary, the candidates' regions, their current load and their
// track record, the weights) and returns the same Recommendation for the
// same Input on every node, with the SHA-256 of the Input's canonical
// encoding so that a decision can note which recommendation it saw. No
// disk, no network, no clock, no hidden model: the score of a candidate
// is the sum of the points of its factors, each a plain number times a
// weight from the node's config (node/config, [recommend]).
//
// The factors, following the SPC's guidance on choosing the receiver
// (necessity; 两便: where the parties live, where the main assets are,
// the candidate's caseload and capacity; and distance from local ties,
// the point of cross-execution):
//
//   - assets: the share of the case's estimated asset value (from the
//     offer's value bands) in the candidate's district, plus half the
//     share elsewhere in its city, times Weights.Assets;
//   - local ties: a candidate in the origin's or the debtor's district is
//     excluded (Weights.ExcludeLocal, on by default); one in the same city
//     as the origin, or as the debtor, loses Weights.Near for each;
//   - load: cases received and not concluded, and overdue transfers,
//     each as n/(n+Weights.LoadHalf), times Weights.Load and
//     Weights.Overdue;
//   - track record: the rates of acceptances in time, of cases concluded
//     within 6 months of acceptance and of recovery (recovered / claimed),
//     each smoothed towards a neutral prior by Weights.PriorCases cases so
//     that a court with no history is neither favoured nor punished, their
//     deviation from the prior times Weights.Track; and measures lapsed
//     during handover as n/(n+1) times Weights.Lapse;
//   - configured exclusions (Weights.Exclude).
//
// A court's region is the one its code names (court.CourtCode.Region),
// or the one the configuration gives it (Weights.CourtRegions, config
// [recommend] court_regions): specialised courts (codes 71-99), 军 and
// 兵 have a region only so, and without one they get no asset share and
// no local tie.
//
// An excluded candidate carries the reason as a stable code
// (Entry.ExcludedCode, one of Exclusions) and in English (Entry.Excluded);
// the dashboard and the command line translate the code.
//
// Candidates are ranked eligible first, by score (ties by court code),
// then the excluded ones, so every candidate has a rank.
package advice
