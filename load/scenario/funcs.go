package scenario

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"text/template"
	"time"

	"github.com/brianvoe/gofakeit/v7"
)

// funcMap is the fake-data functions bodies can call. All randomness comes from
// f, so a seeded faker reproduces the same bodies. clock may be nil (time.Now).
func funcMap(f *gofakeit.Faker, clock func() time.Time) template.FuncMap {
	if clock == nil {
		clock = time.Now
	}
	return template.FuncMap{
		"name":        f.Name,
		"firstName":   f.FirstName,
		"lastName":    f.LastName,
		"email":       f.Email,
		"phone":       func() string { return "+1" + f.Phone() },
		"uuid":        f.UUID,
		"word":        f.Word,
		"noun":        f.Noun,
		"verb":        f.Verb,
		"adjective":   f.Adjective,
		"phrase":      f.Phrase,
		"company":     f.Company,
		"ip":          f.IPv4Address,
		"userAgent":   f.UserAgent,
		"productName": f.ProductName,
		"city":        f.City,
		"zip":         f.Zip,
		"emoji":       f.Emoji,
		"now":         func() string { return clock().UTC().Format(time.RFC3339Nano) },
		"sentence":    sized("sentence", f.Sentence),
		"digits":      sized("digits", func(n int) string { return f.DigitN(uint(n)) }),
		"letters":     sized("letters", func(n int) string { return f.LetterN(uint(n)) }),
		"hex":         sized("hex", func(n int) string { return randHex(f, n) }),
		"number":      f.Number,
		"price":       f.Price,
		"pick": func(choices ...string) string {
			if len(choices) == 0 {
				return ""
			}
			return choices[f.IntN(len(choices))]
		},
		// Escapers for use in pipelines: {{ sentence 6 | jsonstr }}.
		"jsonstr": jsonString,
		"b64":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	}
}

// MaxCount bounds the count the sized fake-data functions take (the words of
// a sentence; the characters of digits, letters and hex). A body needs far
// fewer; `sentence 4000000000000000000` (found by FuzzTemplate) asked for
// more memory than any machine has, and a negative count became a huge one.
const MaxCount = 10000

// sized is fn refusing a count outside 0..MaxCount: the template's execution
// fails with the function's name and the count instead.
func sized(name string, fn func(int) string) func(int) (string, error) {
	return func(n int) (string, error) {
		if n < 0 || n > MaxCount {
			return "", fmt.Errorf("%s %d: the count must be 0 to %d", name, n, MaxCount)
		}
		return fn(n), nil
	}
}

// jsonString escapes s for use inside a JSON string literal (without quotes).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func randHex(f *gofakeit.Faker, n int) string {
	var raw [32]byte
	b := raw[:0]
	for len(b)*2 < n {
		u := f.Uint64()
		for i := 0; i < 8; i++ {
			b = append(b, byte(u>>(8*i)))
		}
	}
	return hex.EncodeToString(b)[:n]
}
