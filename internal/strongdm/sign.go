package strongdm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// DecodeSecret decodes a strongDM API secret key: standard base64 with
// padding, surrounding whitespace ignored. The error never contains the key.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("secret key is empty")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// The base64 error names an offset only, but say less to be safe.
		return nil, errors.New("secret key is not valid standard base64")
	}
	return b, nil
}

// Sign returns the x-sdm-signature of one call: method is "Service.Method"
// (such as "AccountGrants.Create") and body the exact request bytes sent.
// The key is derived from the secret and the UTC date of date, so a call
// retried after midnight must be signed again.
func Sign(secret []byte, date time.Time, method string, body []byte) string {
	day := hmacSHA256(secret, []byte(date.UTC().Format(time.DateOnly)))
	key := hmacSHA256(day, []byte("sdm_api_v1"))

	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{'\n'})
	h.Write(body)
	return base64.StdEncoding.EncodeToString(hmacSHA256(key, h.Sum(nil)))
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
