// Package party is the party service (当事人查询与投诉): what the parties
// of an enforcement case may see of it and how they complain about its
// handling, and the court's side of those complaints.
//
// The model. A clerk issues each party a query code (查询码) once
// (IssueCodes, `courtmesh case codes`); the store keeps only an argon2id
// hash of the code, the case number and the last 4 characters of the
// party's identity number. A party signs in with those three (SignIn):
// any mistake gets one answer at the cost of one argon2id. Signed in, a
// party sees their own case (Status): the court handling it now and its
// number there (the origin keeps the forwarding entry after a transfer),
// the stages and deadlines, the amount recovered, the other parties by
// role and masked name only, and their complaints. A complaint (File) is
// a signed record of this court, its text sealed to the supervising
// court, the court complained of and this court (protocol.Complaint); the
// supervising court answers it (Answer) with a record of its own. Every
// sign-in, view, complaint, reading and answer is audited, without codes,
// identity digits or texts.
//
// Portal is the public face: an HTTP handler on a listener of its own
// (config party_listen, off by default) meant to sit behind the court's
// portal. It holds no token of the court's API and reaches the node only
// through Service. It limits guessing per case number and per source
// (Limits), keeps sessions in memory (SessionIdle, SessionMax), checks a
// CSRF token on every form, sends a strict CSP and renders a small page
// in Chinese or English without any script.
package party
