package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"unicode"
)

// MaxBodyBytes is the largest request body accepted: 64 KiB, far above any
// legitimate request and small enough that a hostile one costs little.
const MaxBodyBytes = 64 << 10

// readBody reads a JSON request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *Error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return nil, Errorf(http.StatusUnsupportedMediaType,
			"Content-Type must be application/json, not %q", r.Header.Get("Content-Type"))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, Errorf(http.StatusUnsupportedMediaType, "the request body must be UTF-8, not %q", cs)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, Errorf(http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", limit)
	case err != nil:
		return nil, Errorf(http.StatusBadRequest, "the request body could not be read")
	case len(bytes.TrimSpace(body)) == 0:
		return nil, Errorf(http.StatusBadRequest, "the request body is empty; send a JSON object with an \"action\"")
	}
	return body, nil
}

// decodeObject parses body, which must be exactly one JSON object, into its
// top-level members. A body that is not an object is first checked for
// syntax, so that malformed JSON is reported as such whatever its start.
func decodeObject(body []byte) (map[string]json.RawMessage, *Error) {
	if first := bytes.TrimSpace(body)[0]; first != '{' {
		if err := json.Unmarshal(body, new(any)); err != nil {
			return nil, syntaxError(body, err)
		}
		return nil, Errorf(http.StatusBadRequest, "the request body must be a JSON object, not %s", jsonKind(first))
	}
	// Unmarshal checks the whole body's syntax before it decodes anything.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, syntaxError(body, err)
	}
	return fields, nil
}

// syntaxError describes a JSON syntax error by line and column, so that a
// person can find it in a multi-line curl --data argument.
func syntaxError(body []byte, err error) *Error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return Errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	// Offset counts the bytes read up to and including the offending one.
	at := min(max(int(se.Offset)-1, 0), len(body))
	line := 1 + bytes.Count(body[:at], []byte("\n"))
	column := at - bytes.LastIndexByte(body[:at], '\n')
	msg := fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, column, se.Error())
	if strings.Contains(se.Error(), "after object key:value pair") {
		msg += " (is a comma missing between two fields?)"
	}
	return Errorf(http.StatusBadRequest, "%s", msg)
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// maxFieldErrors bounds the unknown fields an error names, so that a body
// of thousands of them gets an error of reasonable size.
const maxFieldErrors = 20

// checkFields refuses members that the request type does not have. Unlike
// encoding/json, the match is exact: "Account" is not "account".
func checkFields(fields map[string]json.RawMessage, allowed map[string]bool) *Error {
	var unknown []string
	for name := range fields {
		if !allowed[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	accepted := "unknown field; accepted fields are " + strings.Join(sortedKeys(allowed), ", ")
	var problems []FieldError
	for _, name := range unknown[:min(len(unknown), maxFieldErrors)] {
		problems = append(problems, FieldError{Field: truncate(name, 64), Problem: accepted})
	}
	e := Invalid(problems)
	if len(unknown) > maxFieldErrors {
		e.Message = fmt.Sprintf("invalid request: %d unknown fields, the first %d listed", len(unknown), maxFieldErrors)
	}
	return e
}

// decodeInto decodes body into dst, reporting wrong types by field.
func decodeInto(body []byte, dst any) *Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return Invalid([]FieldError{{Field: memberPath(typeErr.Field), Problem: fmt.Sprintf("must be %s, not %s", jsonTypeName(typeErr.Type), typeErr.Value)}})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Invalid([]FieldError{{Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Problem: "unknown field"}})
	default:
		return Errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
}

// memberPath is the path of JSON members the caller wrote, from the one
// encoding/json reports, which also names each embedded struct by its Go
// type (RunIdentity.account for account). Go type names start with an
// upper-case letter and the members of Runway's requests never do.
func memberPath(path string) string {
	parts := strings.Split(path, ".")
	members := parts[:0]
	for _, p := range parts {
		if p != "" && !unicode.IsUpper(rune(p[0])) {
			members = append(members, p)
		}
	}
	return strings.Join(members, ".")
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// jsonFields returns the JSON member names of struct type t, with those of
// its embedded structs, as encoding/json sees them.
func jsonFields(t reflect.Type) map[string]bool {
	fields := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for embedded := range jsonFields(f.Type) {
				fields[embedded] = true
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = true
	}
	return fields
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
