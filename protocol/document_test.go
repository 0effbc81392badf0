package protocol_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"courtmesh.dev/courtmesh/crypto/cryptopb"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// protocolDoc is the normative description of the wire protocol.
const protocolDoc = "../docs/protocol.md"

// wireName matches the names courtmesh puts on the wire: protocol IDs and
// topics (/courtmesh/...), envelope payload types and signing domains
// (courtmesh/.../vN).
var wireName = regexp.MustCompile(`^/?courtmesh/[^\s"]*$`)

// wireLiterals returns every string literal of the non-test Go files in
// dir that is a wire name, with where it is.
func wireLiterals(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, ".pb.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec:
				return false
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err == nil && wireName.MatchString(s) {
					out[s] = fset.Position(n.Pos()).String()
				}
			}
			return true
		})
	}
	return out
}

// TestProtocolDocumentComplete checks that docs/protocol.md names every
// protocol ID, topic, envelope payload type and signing domain in the
// code (the string literals of protocol/ and crypto/), every message of
// the wire schemas (protocol/pb, crypto/cryptopb) and every record kind
// (each field of Record's oneof body, with its field number), so that a
// name added to the code without a line in the document fails here,
// saying what to add.
func TestProtocolDocumentComplete(t *testing.T) {
	raw, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatalf("the protocol document: %v", err)
	}
	doc := string(raw)
	var missing []string
	asked := map[string]bool{}
	need := func(what, text string) {
		if !asked[text] && !strings.Contains(doc, text) {
			missing = append(missing, fmt.Sprintf("%s: the document must contain %s", what, strconv.Quote(text)))
		}
		asked[text] = true
	}

	// Names on the wire, from the code's literals.
	found := 0
	for _, dir := range []string{".", "../crypto"} {
		lits := wireLiterals(t, dir)
		keys := make([]string, 0, len(lits))
		for s := range lits {
			keys = append(keys, s)
		}
		slices.Sort(keys)
		for _, s := range keys {
			found++
			need("wire name at "+lits[s], s)
		}
	}
	if found < 10 {
		t.Fatalf("found only %d wire names in protocol/ and crypto/: the scan is broken", found)
	}
	// The parts the literals do not show whole.
	for _, id := range cmproto.GossipSubProtocols {
		need("gossipsub protocol ID (protocol.GossipSubProtocols)", string(id))
	}
	for _, s := range []string{cmproto.TopicTrust, cmproto.TopicTransfers, string(cmproto.ProtoBundle), cmproto.ProtoSync, cmproto.ProtoFetch,
		cmproto.PayloadBundleAnnounce, cmproto.PayloadHeartbeat, cmproto.PayloadRecord, cmproto.PayloadLogHeads} {
		need("protocol constant", s)
	}
	need("heartbeat topic (protocol.TopicHeartbeat)", strings.Replace(cmproto.TopicHeartbeat("PROVINCE"), "PROVINCE", "<province>", 1))
	need("gossip message bound (protocol.MaxGossipMessage)", fmt.Sprintf("%d bytes", cmproto.MaxGossipMessage))
	need("gossipsub signing policy", "StrictNoSign")

	// Every message of the wire schemas.
	// Every schema file of the two wire packages, found in the registry,
	// so that a new .proto file is caught too.
	_, _ = pb.File_pb_protocol_proto, cryptopb.File_cryptopb_crypto_proto // registered by these packages
	schemas := 0
	for _, pkg := range []protoreflect.FullName{"courtmesh.protocol.v1", "courtmesh.crypto.v1"} {
		protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
			schemas++
			msgs := fd.Messages()
			for i := range msgs.Len() {
				m := msgs.Get(i)
				need(fmt.Sprintf("message %s (%s)", m.FullName(), fd.Path()), "`"+string(m.Name())+"`")
			}
			enums := fd.Enums()
			for i := range enums.Len() {
				vals := enums.Get(i).Values()
				for j := range vals.Len() {
					need(fmt.Sprintf("enum value %s", vals.Get(j).FullName()), string(vals.Get(j).Name()))
				}
			}
			return true
		})
	}
	if schemas < 3 {
		t.Fatalf("found %d schema files of the wire packages: the registry scan is broken", schemas)
	}

	// Every record kind: Record's oneof body, with its field number.
	body := (&pb.Record{}).ProtoReflect().Descriptor().Oneofs().ByName("body")
	if body == nil {
		t.Fatal("Record has no oneof body")
	}
	fields := body.Fields()
	if fields.Len() < 11 {
		t.Fatalf("Record.body has %d fields: the reflection is broken", fields.Len())
	}
	for i := range fields.Len() {
		f := fields.Get(i)
		need(fmt.Sprintf("record kind %s (Record.body field %d, message %s): add a row to §8's table of record kinds", f.Name(), f.Number(), f.Message().Name()),
			fmt.Sprintf("| %d | `%s` | `%s` |", f.Number(), f.Name(), f.Message().Name()))
	}

	if len(missing) > 0 {
		t.Errorf("%s does not describe %d name(s) the code puts on the wire:\n  %s", protocolDoc, len(missing), strings.Join(missing, "\n  "))
	}
}
