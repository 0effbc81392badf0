// Package court is the shared vocabulary of courtmesh and its pure legal
// rules: the names of courts, case numbers, civil dates, asset classes and
// enforcement measures that every other package speaks, the case model and
// the rules for changing it. It is pure and imports only the standard
// library; nothing here performs I/O or knows about the network.
//
// # Courts
//
// A [CourtCode] is a court's 法院代字 as printed in case numbers:
//
//	最高法      the Supreme People's Court            (LevelSupreme)
//	京          a province abbreviation: high court   (LevelHigh)
//	京02        + 2 digits: intermediate court        (LevelIntermediate)
//	京0105      + 4 digits: basic court               (LevelBasic)
//
// 军 (the military court) and 兵 (the XPCC branch of the Xinjiang high court)
// are treated as high-level codes. Guizhou's abbreviation in case numbers is
// 黔, not 贵; 贵 is rejected with a hint.
//
// Intermediate digits 71–99 denote specialised courts (71 railway transport,
// 72 maritime, 73 intellectual property, others specialised); a basic code
// whose first two digits are 71–99 (京7101) is a specialised basic court.
// Specialisation is orthogonal to level: 北京知识产权法院 (京73) sits at the
// intermediate level, so there is no separate "special" [Level]; ask
// [CourtCode.IsSpecialised] instead.
//
// # Hierarchy
//
// [CourtCode.DerivedParent] derives a default superior from the code alone:
// 京0105 -> 京01 -> 京 -> 最高法. The derivation is only a default. In the
// four municipalities (京 津 沪 渝) basic courts are not assigned to
// intermediate courts by code prefix: 朝阳 (京0105) sits under 北京市第三中级
// 人民法院 (京03), not 京01. Specialised intermediate courts (京71, 沪72 ...)
// have no derivable parent at all. Wherever a court's certificate carries an
// explicit parent, that field is authoritative; [Hierarchy] abstracts over
// the source, [DerivedHierarchy] is the code-only fallback and
// [IsSuperior] walks any Hierarchy with a bounded, cycle-safe walk.
//
// [CourtCode.Within] is a naming test (does the code fall under an issuer's
// prefix), not a statement about the hierarchy.
//
// # Case numbers
//
// A [CaseNumber] is a 案号, （年度）法院代字[专门审判代字]类型代字编号号,
// e.g. （2024）京0105执1234号. ASCII parentheses and full-width digits are
// accepted on input; [CaseNumber.String] always prints the normalised form
// with full-width parentheses and ASCII digits. The only special-trial code
// (专门审判代字) understood is 知 (as in （2021）最高法知民终1号); other
// special-trial codes are rejected as unknown case types rather than guessed.
//
// # Dates
//
// A [Date] is a civil date in China Standard Time (UTC+08:00, no daylight
// saving); [DateOf] converts an instant using a fixed +08:00 zone, so no
// time-zone database is needed.
//
// # Assets and measures
//
// [AssetClass] and [MeasureKind] name the property and the measures taken on
// it. [MaxMeasureDuration] gives the longest term of a seizure, freeze or
// detention under 民诉法解释 (2022) art. 485; [LegalExpiry] and
// [CheckExpiry] apply it with the convention that the term includes its
// effective day, so a one-year freeze effective 2024-03-01 may last until
// 2025-02-28 inclusive.
//
// # The case model
//
// A [Case] is an enforcement case as the rules see it: its [Party]
// entries (identity numbers masked; the caller seals the number itself),
// the enforceable [Title], the debtor's [Asset] entries and the [Measure]
// entries on them, each with a [MeasureStatus]. Package storage persists
// it (storage.CaseVersion adds the documents); the JSON field names of
// these types are a stored format and never change.
//
// # Changing assets and measures
//
// [PlanAssetChange] checks an [AssetChange] (a search result, a renewal,
// a release, a disposal, a lapse, a new measure) against a Case and the
// law and returns an [AssetDelta]: every asset and measure touched,
// before and after. It does not apply it; a store does, and the delta
// travels to the other court of a transfer. The rules it applies:
//
//   - A renewal (续行) is made before the measure expires, takes effect
//     by the day after its expiry at the latest (by default that day: no
//     gap), lasts at most the legal term and must end later than the
//     measure it renews, which becomes [MeasureRenewed].
//     A lapsed measure cannot be renewed; a lapse is recorded only after
//     the expiry.
//   - A waiting-line seizure (轮候, [MeasureWaiting]) has a rank (1 =
//     next) and no term while it waits; a seizure registered later queues
//     behind every one already waiting (priority follows the time of
//     service), and it cannot be renewed.
//   - When the seizure holding an asset ends (released, carried out,
//     lapsed) and no other seizure holds it, the first waiting seizure
//     takes effect that day as the same kind of seizure with its own
//     legal term, and the others move up a place; a waiting seizure
//     withdrawn moves those behind it up.
//   - A disposal of funds is recorded as a deduction (扣划); other
//     property is sold, which carries the seizure out.
//
// [EarliestExpiry] and [Measure.Running] say which measures can lapse.
//
// # Identity numbers
//
// [ValidResidentID] and [ValidCreditCode] check the check characters of
// resident identity numbers (GB 11643-1999) and unified social credit
// codes (GB 32100-2015); [MaskNumber] and [MaskPhone] give the display
// forms kept in clear.
//
// # Errors
//
// Every parser and checker returns errors that wrap [ErrInvalid], so callers
// test them with errors.Is(err, court.ErrInvalid); the message names the
// input and what is wrong with it, in words a clerk can act on.
// [PlanAssetChange] may also return [ErrNotFound] (no such measure, asset
// or party), [ErrConflict] (the measure is no longer active, an id or a
// waiting rank is taken, a renewal comes too late) and [ErrCorrupt] (a
// measure on an asset the case does not hold).
package court
