// Package urlmetadata is a Dapr HTTP middleware that lets a caller of the
// conversation API pass request metadata in the URL, as Dapr's state API
// already allows: ?metadata.model=gpt-4.1-mini. Dapr's conversation handlers
// read metadata only from the JSON body, so the middleware copies each
// metadata.<key> query parameter into the body's "metadata" object before the
// handler decodes it. Going through Dapr's own HTTP pipeline (a Configuration's
// spec.httpPipeline) keeps daprd unforked.
package urlmetadata

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// DefaultMaxBody is how much of a body the middleware buffers: Dapr's default
// maximum request body (--max-body-size, 4 MiB). A larger body streams on to
// daprd untouched rather than being held in memory here.
const DefaultMaxBody = 4 << 20

// queryPrefix marks the query parameters that carry metadata, as in Dapr's
// state API (pkg/api/http: metadataPrefix); the match is case-sensitive there
// too.
const queryPrefix = "metadata."

// conversePath matches the two routes of Dapr's conversation API. daprd's
// router has already cleaned the path and stripped a trailing slash before
// the pipeline runs.
var conversePath = regexp.MustCompile(`^/v1\.0-alpha[12]/conversation/[^/]+/converse$`)

// Handler returns the middleware around next. For a POST to a converse route
// whose URL has metadata.<key> parameters, it merges them into the JSON body's
// "metadata" object; a key the body already has keeps the body's value, since
// the body is the request's own, more specific, statement. Of a repeated
// parameter only the first value counts (as in Dapr's state API), and a
// parameter with an empty key ("metadata.") is ignored. Everything else passes
// through unchanged: other methods and paths, requests without such
// parameters, a body that is not a JSON object (or whose "metadata" is not an
// object), which daprd then rejects in its own words, and a body larger than
// maxBody bytes, which streams on without being rewritten.
func Handler(next http.Handler, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && conversePath.MatchString(r.URL.Path) {
			if params := queryMetadata(r); len(params) > 0 {
				mergeIntoBody(r, params, maxBody)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// queryMetadata returns the URL's metadata.<key> parameters by key.
func queryMetadata(r *http.Request) map[string]string {
	var out map[string]string
	for name, values := range r.URL.Query() {
		key, ok := strings.CutPrefix(name, queryPrefix)
		if !ok || key == "" || len(values) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[key] = values[0]
	}
	return out
}

// mergeIntoBody replaces r's body with one whose "metadata" object also holds
// params, or, when that is not possible, restores the body exactly as read.
func mergeIntoBody(r *http.Request, params map[string]string, maxBody int64) {
	var original io.ReadCloser = http.NoBody
	if r.Body != nil {
		original = r.Body
	}
	// One byte more than the bound tells a body at the bound from a larger one.
	head, err := io.ReadAll(io.LimitReader(original, maxBody+1))
	if err != nil || int64(len(head)) > maxBody {
		// Too large, or the read failed (e.g. daprd's own body limit): hand
		// daprd the bytes read so far followed by the rest of the stream, so it
		// sees the same body, or the same error, it would have seen without us.
		r.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(head), errorAfter(original, err)), Closer: original}
		return
	}
	_ = original.Close()
	merged, ok := merge(head, params)
	if !ok {
		merged = head
	}
	r.Body = io.NopCloser(bytes.NewReader(merged))
	r.ContentLength = int64(len(merged))
	r.Header.Set("Content-Length", strconv.Itoa(len(merged)))
	r.TransferEncoding = nil
}

// merge returns body with params added to its "metadata" object, or false if
// body is neither empty nor a JSON object with an object (or null, or no)
// "metadata".
func merge(body []byte, params map[string]string) ([]byte, bool) {
	fields := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
			return nil, false // not an object ("null" leaves fields nil)
		}
	}
	metadata := map[string]json.RawMessage{}
	if raw, ok := fields["metadata"]; ok {
		if err := json.Unmarshal(raw, &metadata); err != nil {
			return nil, false
		}
		if metadata == nil { // "metadata": null
			metadata = map[string]json.RawMessage{}
		}
	}
	for key, value := range params {
		if _, taken := metadata[key]; taken {
			continue
		}
		encoded, err := json.Marshal(value)
		if err != nil {
			return nil, false
		}
		metadata[key] = encoded
	}
	encodedMetadata, err := json.Marshal(metadata)
	if err != nil {
		return nil, false
	}
	fields["metadata"] = encodedMetadata
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, false
	}
	return out, true
}

// joinedBody is a body read from one reader and closed through another.
type joinedBody struct {
	io.Reader
	io.Closer
}

// errorAfter returns rest, or, if reading already failed with err, a reader
// that fails the same way.
func errorAfter(rest io.Reader, err error) io.Reader {
	if err != nil {
		return failingReader{err}
	}
	return rest
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }
