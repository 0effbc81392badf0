package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// Client talks to a running node over its Unix socket.
type Client struct {
	hc    *http.Client
	token string
}

// ErrNodeNotRunning: nothing answers on the socket.
var ErrNodeNotRunning = court.Errorf(court.ErrUnavailable, "node not running")

// NewClient returns a client for the node whose socket is at socket.
func NewClient(socket, token string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{hc: &http.Client{Transport: tr, Timeout: 10 * time.Minute}, token: token}
}

// Do sends a request with body (marshalled as JSON unless it is []byte)
// and decodes a 2xx answer into out (if not nil; a *[]byte receives the
// body as it is, for a document). A non-2xx answer is
// returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.do(ctx, method, path, nil, body, out)
	return err
}

// Page gets one page of a listing into out and returns the cursor of the
// next page ("" at the end; see NextCursorHeader).
func (c *Client) Page(ctx context.Context, path string, out any) (next string, err error) {
	h, err := c.do(ctx, "GET", path, nil, nil, out)
	if err != nil {
		return "", err
	}
	return h.Get(NextCursorHeader), nil
}

// PushBundle sends a trust bundle or delta to POST /v1/trust/bundle, with
// the whole bundle's root-signed head if head is not nil
// (BundleHeadHeader).
func (c *Client) PushBundle(ctx context.Context, raw, head []byte) (InstallResult, error) {
	var h http.Header
	if len(head) > 0 {
		h = http.Header{BundleHeadHeader: {base64.StdEncoding.EncodeToString(head)}}
	}
	var res InstallResult
	_, err := c.do(ctx, "POST", "/v1/trust/bundle", h, raw, &res)
	return res, err
}

func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body, out any) (http.Header, error) {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://courtmesh"+path, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return nil, fmt.Errorf("%w (is `courtmesh run` started?): %v", ErrNodeNotRunning, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error *Error `json:"error"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&eb); err != nil || eb.Error == nil {
			return nil, fmt.Errorf("node answered %s", resp.Status)
		}
		eb.Error.Status = resp.StatusCode
		return nil, eb.Error
	}
	if out == nil {
		return resp.Header, nil
	}
	if raw, ok := out.(*[]byte); ok { // a document (text/html), not JSON
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		*raw = b
		return resp.Header, err
	}
	return resp.Header, json.NewDecoder(resp.Body).Decode(out)
}
