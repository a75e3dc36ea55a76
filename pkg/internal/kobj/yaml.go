package kobj

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// YAML renders a typed object as block-style YAML with sorted keys, without the nulls and empty maps
// of ToMap. It writes the map itself instead of going through a YAML library's emitter, which costs ten
// times as much and matters when thousands of labs are rendered at once; a test proves the output
// parses back to the same object.
func YAML(obj any) ([]byte, error) {
	m, err := ToMap(obj)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(1024)
	if err := writeMap(&b, m, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeMap(b *bytes.Buffer, m map[string]any, indent int) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 || b.Len() == 0 || b.Bytes()[b.Len()-1] == '\n' {
			pad(b, indent)
		}
		writeScalar(b, k)
		b.WriteByte(':')
		if err := writeValue(b, m[k], indent); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// writeValue writes what follows "key:" or "-", including the line break.
func writeValue(b *bytes.Buffer, v any, indent int) error {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			b.WriteString(" {}\n")
			return nil
		}
		b.WriteByte('\n')
		return writeMap(b, t, indent+2)
	case []any:
		if len(t) == 0 {
			b.WriteString(" []\n")
			return nil
		}
		b.WriteByte('\n')
		for _, e := range t {
			pad(b, indent)
			b.WriteString("- ")
			if m, ok := e.(map[string]any); ok && len(m) > 0 {
				// The first key goes on the dash's line, the others line up under it.
				if err := writeMap(b, m, indent+2); err != nil {
					return err
				}
				continue
			}
			b.Truncate(b.Len() - 1) // writeValue adds its own space
			if err := writeValue(b, e, indent+2); err != nil {
				return err
			}
		}
		return nil
	}
	b.WriteByte(' ')
	switch t := v.(type) {
	case string:
		writeScalar(b, t)
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("cannot render %T", v)
	}
	b.WriteByte('\n')
	return nil
}

func pad(b *bytes.Buffer, n int) {
	for range n {
		b.WriteByte(' ')
	}
}

// writeScalar writes s plain when no YAML 1.1 or 1.2 reader could take it for anything but that
// string, and double-quoted (Go escapes are YAML escapes) otherwise.
func writeScalar(b *bytes.Buffer, s string) {
	if plain(s) {
		b.WriteString(s)
		return
	}
	b.WriteString(strconv.Quote(s))
}

// plain: starts with a letter or '/', holds only characters that mean nothing in YAML here, does not end
// in ':', and is not a word YAML 1.1 reads as a bool or null. Numbers start with a digit, '.', '+' or '-',
// so they are always quoted.
func plain(s string) bool {
	if s == "" || !(isLetter(s[0]) || s[0] == '/') || s[len(s)-1] == ':' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && !strings.ContainsRune("._/-=$,@+:", rune(c)) {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
