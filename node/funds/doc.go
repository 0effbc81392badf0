// Package funds is the room of what follows a case's money, sanctions and
// assisting bodies across a transfer, from the handover on:
//
//   - the funds ledger (执行款/案款): money received by either court (a
//     扣划 of a frozen deposit, an auction, a voluntary payment), paid out
//     to the applicant, forwarded between the courts; money that reaches
//     the origin after its 销案 must be forwarded or paid out within
//     ForwardDays (alert funds_held_at_origin); Check reconciles the
//     ledger against the claim and the receiver's reports;
//   - credit sanctions (信用惩戒: 失信名单, 限制消费令, 限制出境): the
//     origin declares those in force, the receiver re-issues each under its
//     new case number, then the origin lifts its own (never before the
//     re-issue); an alert stands until both have acted;
//   - the receiver's worklist of notices (协助执行通知书) to the bodies
//     holding the moved measures, drafted, sent and acknowledged, each
//     printable as one A4 page from a template the court may replace.
//
// Every change is a signed record in this court's log (protocol's
// FundsEntry, Sanction, AssistNotice), validated by the pure rules of
// package protocol on every node; the transfer's state carries the
// ledger totals, which the dashboard sums at write time. Amounts, dates,
// kinds and case numbers are broadcast; accounts, payers, references and
// respondents are sealed with the dossier's data key for the courts of
// the transfer.
package funds
