package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// MaxBody is the most a JSON request body may hold.
const MaxBody = 64 << 10

// decodeBody reads a JSON request body into dst: exactly one JSON value,
// then nothing but whitespace; UTF-8 text without NUL characters or
// unpaired surrogate escapes (encoding/json would fold those into U+FFFD,
// making different inputs one). On failure it answers 400 (iqpay shape)
// naming the problem after example, the body the route expects, and
// returns false.
func decodeBody(c *gin.Context, dst any, example string) bool {
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
	if err == nil {
		err = checkJSON(data, dst)
	}
	if err != nil {
		fail(c, http.StatusBadRequest, "the body must be JSON like %s: %s", example, err)
		return false
	}
	return true
}

// checkJSON decodes data into dst under decodeBody's rules.
func checkJSON(data []byte, dst any) error {
	if err := checkJSONText(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// checkJSONText refuses JSON text that is not UTF-8 or whose strings
// escape NUL (\u0000) or half a surrogate pair (\ud800 alone). A
// backslash only occurs inside strings in valid JSON, so scanning the
// escapes is enough; invalid JSON is left to the decoder.
func checkJSONText(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("the body is not valid UTF-8")
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' || i+1 >= len(data) {
			continue
		}
		i++ // the escaped character
		if data[i] != 'u' {
			continue
		}
		r, ok := hex4(data, i+1)
		if !ok {
			continue
		}
		i += 4
		switch {
		case r == 0:
			return errors.New(`a string holds a NUL character (\u0000)`)
		case r >= 0xdc00 && r <= 0xdfff:
			return fmt.Errorf(`a string holds an unpaired surrogate (\u%04x)`, r)
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := rune(0), i+2 < len(data) && data[i+1] == '\\' && data[i+2] == 'u'
			if ok {
				lo, ok = hex4(data, i+3)
			}
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return fmt.Errorf(`a string holds an unpaired surrogate (\u%04x)`, r)
			}
			i += 6
		}
	}
	return nil
}

// hex4 reads the 4 hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, b := range data[i : i+4] {
		var v byte
		switch {
		case b >= '0' && b <= '9':
			v = b - '0'
		case b >= 'a' && b <= 'f':
			v = b - 'a' + 10
		case b >= 'A' && b <= 'F':
			v = b - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}
