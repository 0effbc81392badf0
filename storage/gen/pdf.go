package gen

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WritePDF writes a minimal, valid one-page PDF 1.4 file showing lines of
// ASCII text in Helvetica, with a correct cross-reference table. If pad > 0
// and the file would be smaller, an extra stream object filled from fill
// brings it to about pad bytes (a stand-in for the bulk of a scanned
// page). It returns the number of bytes written.
func WritePDF(w io.Writer, lines []string, pad int64, fill io.Reader) (int64, error) {
	var content bytes.Buffer
	content.WriteString("BT /F1 11 Tf 56 780 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&content, "(%s) Tj T*\n", pdfEscape(l))
	}
	content.WriteString("ET\n")

	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
	}
	cw := &countWriter{w: w}
	offsets := make([]int64, 0, len(objs)+1)
	if _, err := io.WriteString(cw, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"); err != nil {
		return cw.n, err
	}
	for i, o := range objs {
		offsets = append(offsets, cw.n)
		if _, err := fmt.Fprintf(cw, "%d 0 obj\n%s\nendobj\n", i+1, o); err != nil {
			return cw.n, err
		}
	}
	const trailerEstimate = 200
	if extra := pad - cw.n - trailerEstimate - 64; pad > 0 && extra > 0 {
		offsets = append(offsets, cw.n)
		if _, err := fmt.Fprintf(cw, "%d 0 obj\n<< /Length %d >>\nstream\n", len(offsets), extra); err != nil {
			return cw.n, err
		}
		if _, err := io.CopyN(cw, fill, extra); err != nil {
			return cw.n, err
		}
		if _, err := io.WriteString(cw, "\nendstream\nendobj\n"); err != nil {
			return cw.n, err
		}
	}
	xref := cw.n
	var t strings.Builder
	fmt.Fprintf(&t, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&t, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&t, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	_, err := io.WriteString(cw, t.String())
	return cw.n, err
}

func pdfEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
