package api

import "bytes"

// appendIndented appends to dst the compact JSON src (as json.Marshal
// writes it: no white space outside strings) indented by two spaces,
// byte for byte what json.Indent(dst, src, "", "  ") appends: a newline
// and the depth's indent after an opening bracket, a comma and before a
// closing bracket, ": " after a key, and [] and {} when empty.
//
// json.Indent runs its scanner's state machine on every byte, strings
// included; the API's responses are mostly strings (an alert's message
// is 200-400 bytes of Chinese and English), which appendIndented copies
// whole. Fed anything but compact JSON, its output is unspecified.
func appendIndented(dst, src []byte) []byte {
	depth := 0
	open := false // after [ or {, until the next byte says whether it is empty
	for i := 0; i < len(src); {
		c := src[i]
		if open && c != ']' && c != '}' {
			open = false
			depth++
			dst = appendNewline(dst, depth)
		}
		switch c {
		case '"':
			end := stringEnd(src, i)
			dst = append(dst, src[i:end]...)
			i = end
			continue
		case '{', '[':
			open = true
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			dst = appendNewline(dst, depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if open {
				open = false
			} else {
				depth--
				dst = appendNewline(dst, depth)
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

// stringEnd returns the index just past the string that starts with the
// quote at src[i] (len(src) if it is not closed).
func stringEnd(src []byte, i int) int {
	q := -1 // the next quote at or after j, once found
	for j := i + 1; j < len(src); {
		if q < j {
			k := bytes.IndexByte(src[j:], '"')
			if k < 0 {
				break
			}
			q = j + k
		}
		b := bytes.IndexByte(src[j:q], '\\')
		if b < 0 {
			return q + 1
		}
		j += b + 2 // a backslash and the byte it escapes
	}
	return len(src)
}

func appendNewline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, ' ', ' ')
	}
	return dst
}
