package urlmetadata

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/dapr/components-contrib/metadata"
	contribmiddleware "github.com/dapr/components-contrib/middleware"
	httpmiddleware "github.com/dapr/dapr/pkg/components/middleware/http"
)

// seen is what the handler behind the middleware received.
type seen struct {
	body          []byte
	contentLength int64
	header        string
}

func serve(t *testing.T, h func(http.Handler) http.Handler, r *http.Request) seen {
	t.Helper()
	var got seen
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("reading the body behind the middleware: %v", err)
		}
		got = seen{body: body, contentLength: r.ContentLength, header: r.Header.Get("Content-Length")}
	})
	h(next).ServeHTTP(httptest.NewRecorder(), r)
	return got
}

func TestHandler(t *testing.T) {
	type Case struct {
		reason string
		method string
		target string
		body   string
		// want is the body the next handler must see: JSON compared as a
		// value when merged, bytes compared exactly when passed through.
		want   string
		merged bool
	}
	cases := []Case{
		{
			reason: "alpha2: a URL parameter joins the body's metadata",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=gpt-4.1-mini",
			body:   `{"inputs":[{"messages":[]}],"metadata":{"user":"ann"}}`,
			want:   `{"inputs":[{"messages":[]}],"metadata":{"user":"ann","model":"gpt-4.1-mini"}}`,
			merged: true,
		},
		{
			reason: "alpha1 is rewritten too, and a body without metadata gains it",
			method: http.MethodPost,
			target: "/v1.0-alpha1/conversation/echo/converse?metadata.model=m1&metadata.tier=gold",
			body:   `{"inputs":[{"content":"hi"}]}`,
			want:   `{"inputs":[{"content":"hi"}],"metadata":{"model":"m1","tier":"gold"}}`,
			merged: true,
		},
		{
			reason: "the body wins over the URL on the same key",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=from-url&metadata.extra=x",
			body:   `{"metadata":{"model":"from-body"}}`,
			want:   `{"metadata":{"model":"from-body","extra":"x"}}`,
			merged: true,
		},
		{
			reason: "an empty body becomes a metadata object",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   ``,
			want:   `{"metadata":{"model":"m"}}`,
			merged: true,
		},
		{
			reason: "null metadata is replaced",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   `{"metadata":null}`,
			want:   `{"metadata":{"model":"m"}}`,
			merged: true,
		},
		{
			reason: "URL-encoded values arrive decoded; other parameters and the first of a repeat",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.note=a%20b%26c%3D%C3%A9&metadata.k=1&metadata.k=2&model=ignored&metadata.=empty",
			body:   `{}`,
			want:   `{"metadata":{"note":"a b&c=é","k":"1"}}`,
			merged: true,
		},
		{
			reason: "a non-converse path is untouched",
			method: http.MethodPost,
			target: "/v1.0/state/store?metadata.model=m",
			body:   `{"a":1}`,
			want:   `{"a":1}`,
		},
		{
			reason: "a longer path under a converse route is untouched",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse/more?metadata.model=m",
			body:   `{"a":1}`,
			want:   `{"a":1}`,
		},
		{
			reason: "GET is untouched",
			method: http.MethodGet,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   `{"a":1}`,
			want:   `{"a":1}`,
		},
		{
			reason: "no metadata parameters: untouched, spacing kept",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?model=m",
			body:   `{ "a" : 1 }`,
			want:   `{ "a" : 1 }`,
		},
		{
			reason: "a body that is not JSON is untouched",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   `model=m`,
			want:   `model=m`,
		},
		{
			reason: "a JSON array is untouched",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   `[1,2]`,
			want:   `[1,2]`,
		},
		{
			reason: "JSON null is untouched",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   `null`,
			want:   `null`,
		},
		{
			reason: "metadata that is not an object is untouched",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   `{"metadata":"x"}`,
			want:   `{"metadata":"x"}`,
		},
		{
			reason: "trailing data after the object is untouched",
			method: http.MethodPost,
			target: "/v1.0-alpha2/conversation/pyllm/converse?metadata.model=m",
			body:   `{}{}`,
			want:   `{}{}`,
		},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			got := serve(t, middlewareOf(t), r)
			if !c.merged {
				if string(got.body) != c.want {
					t.Fatalf("body = %q, want it untouched: %q", got.body, c.want)
				}
				if got.contentLength != int64(len(c.body)) {
					t.Fatalf("ContentLength = %d, want %d", got.contentLength, len(c.body))
				}
				return
			}
			var gotValue, wantValue any
			if err := json.Unmarshal(got.body, &gotValue); err != nil {
				t.Fatalf("merged body %q is not JSON: %v", got.body, err)
			}
			if err := json.Unmarshal([]byte(c.want), &wantValue); err != nil {
				t.Fatalf("bad case: %v", err)
			}
			if g, w := mustJSON(t, gotValue), mustJSON(t, wantValue); g != w {
				t.Fatalf("body = %s, want %s", g, w)
			}
			if got.contentLength != int64(len(got.body)) || got.header != strconv.Itoa(len(got.body)) {
				t.Fatalf("ContentLength = %d, header %q; the body has %d bytes", got.contentLength, got.header, len(got.body))
			}
		})
	}
}

func TestHandlerStreamsABodyOverTheBoundUntouched(t *testing.T) {
	const bound = 16
	for _, size := range []int{bound, bound + 1, 4 * bound} {
		body := `{"a":"` + strings.Repeat("x", size-8) + `"}`
		r := httptest.NewRequest(http.MethodPost, "/v1.0-alpha2/conversation/p/converse?metadata.model=m", strings.NewReader(body))
		got := serve(t, func(next http.Handler) http.Handler { return Handler(next, bound) }, r)
		if len(body) > bound && string(got.body) != body {
			t.Fatalf("size %d: body = %q, want it untouched", len(body), got.body)
		}
		if len(body) <= bound && !bytes.Contains(got.body, []byte(`"model":"m"`)) {
			t.Fatalf("size %d: body = %q, want it merged", len(body), got.body)
		}
	}
}

func TestHandlerPassesOnAReadErrorAsIs(t *testing.T) {
	failure := io.ErrUnexpectedEOF
	r := httptest.NewRequest(http.MethodPost, "/v1.0-alpha2/conversation/p/converse?metadata.model=m",
		io.MultiReader(strings.NewReader(`{"a":`), failingReader{failure}))
	var gotBody []byte
	var gotErr error
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotBody, gotErr = io.ReadAll(r.Body)
	})
	Handler(next, DefaultMaxBody).ServeHTTP(httptest.NewRecorder(), r)
	if string(gotBody) != `{"a":` || gotErr != failure {
		t.Fatalf("next read %q, %v; want the bytes before the failure and the failure itself", gotBody, gotErr)
	}
}

func TestRegistryCreatesTheMiddlewareByItsType(t *testing.T) {
	registry := httpmiddleware.NewRegistry()
	Register(registry)
	mw, err := registry.Create("middleware.http.conversationmetadata", "v1", contribmiddleware.Metadata{}, "conversation-metadata")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1.0-alpha2/conversation/p/converse?metadata.model=m", strings.NewReader(`{}`))
	if got := serve(t, mw, r); string(got.body) != `{"metadata":{"model":"m"}}` {
		t.Fatalf("body = %s", got.body)
	}
}

func TestNewRejectsMetadata(t *testing.T) {
	_, err := New(contribmiddleware.Metadata{Base: metadata.Base{Properties: map[string]string{"maxBody": "1"}}})
	if err == nil || !strings.Contains(err.Error(), "maxBody") {
		t.Fatalf("err = %v, want one naming the unexpected setting", err)
	}
}

func middlewareOf(t *testing.T) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := New(contribmiddleware.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
