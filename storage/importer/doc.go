// Package importer reads a case folder or .zip — case.json plus the
// document files it names — checks all of it, and stores it with
// storage.DB.PutCase: the whole case or nothing.
//
// case.json is described by case.schema.json (embedded as SchemaJSON). The
// importer validates the schema itself (unknown fields, types, required
// fields, enums, patterns, bounds), then decodes strictly
// (DisallowUnknownFields) and checks what a schema cannot: case numbers
// and court codes (package court), the order of dates, measure terms
// against the legal limits (court.LegalExpiry, court.CheckExpiry), which
// measures apply to which asset classes, references between ids, renewal
// chains, waiting-line ranks, and identity-number check digits. Every
// problem is reported, each with the JSON path of the field
// (measures[2].expiry: ...), in one *ValidationError.
//
// Archives are read defensively: entries with "..", absolute paths,
// backslashes, symbolic links, non-regular files or duplicate names are
// rejected; sizes are counted on the bytes actually decompressed (headers
// can lie); an entry that inflates more than MaxCompressionRatio times is
// refused as a zip bomb. Folders are read through os.Root and symbolic
// links refused.
package importer
