package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// benchConn is one client of bench api's timed phases: a keep-alive
// HTTP/1.1 connection that writes a request and reads its answer, and
// nothing else, as a load generator such as wrk does. The benchmark runs
// its server and its 64 clients on the same two cores; net/http's client
// (a reader and a writer goroutine per connection and channels between
// them) took a third of them, which then did not go to the server. The
// server sees ordinary HTTP/1.1 requests with their keys and
// Idempotency-Keys. Answers are checked by status and read whole.
type benchConn struct {
	addr, auth string
	conn       net.Conn
	r          *bufio.Reader
	req        []byte
	deadline   time.Time // set on conn
}

func newBenchConn(addr, key string) *benchConn {
	return &benchConn{addr: addr, auth: "Bearer " + key}
}

// errBenchAnswer is an answer a benchConn cannot read.
var errBenchAnswer = errors.New("bench api: malformed HTTP answer")

// post sends body to path under a new Idempotency-Key and returns the
// answer's status and body (valid until the next call). A connection
// that fails is closed and made again on the next call.
func (c *benchConn) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, nil, err
		}
		c.conn, c.r, c.deadline = conn, bufio.NewReaderSize(conn, 64<<10), time.Time{}
	}
	if dl, _ := ctx.Deadline(); dl != c.deadline {
		c.conn.SetDeadline(dl)
		c.deadline = dl
	}
	c.req = append(c.req[:0], "POST "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.addr...)
	c.req = append(c.req, "\r\nAuthorization: "...)
	c.req = append(c.req, c.auth...)
	c.req = append(c.req, "\r\nIdempotency-Key: "...)
	c.req = tongbao.NewID().Append(c.req)
	c.req = append(c.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return 0, nil, err
	}
	status, answer, err := c.read()
	if err != nil {
		c.close()
	}
	return status, answer, err
}

func (c *benchConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.r = nil, nil
	}
}

// read reads one answer: the status line, the headers and a body of the
// Content-Length given, or chunked.
func (c *benchConn) read() (int, []byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	// "HTTP/1.1 201 Created\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, errBenchAnswer
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, errBenchAnswer
	}
	length, chunked, closing := -1, false, false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, errBenchAnswer
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, errBenchAnswer
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	var body []byte
	switch {
	case chunked:
		body, err = readChunked(c.r)
	case length >= 0:
		body = make([]byte, length)
		_, err = io.ReadFull(c.r, body)
	default:
		err = errBenchAnswer // the server always says how long its answers are
	}
	if err != nil {
		return 0, nil, err
	}
	if closing {
		c.close()
	}
	return status, body, nil
}

// readChunked reads a chunked body (RFC 9112, section 7.1) without
// trailers.
func readChunked(r *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseUint(string(size), 16, 31)
		if err != nil {
			return nil, errBenchAnswer
		}
		if n == 0 {
			if _, err := r.ReadSlice('\n'); err != nil { // the empty line after the last chunk
				return nil, err
			}
			return body, nil
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(r, body[start:]); err != nil {
			return nil, err
		}
		if _, err := r.ReadSlice('\n'); err != nil {
			return nil, err
		}
	}
}

// benchStatusError is an answer of an unexpected status.
func benchStatusError(status int, body []byte) error {
	return fmt.Errorf("bench api: answer %d: %.200s", status, body)
}

// benchPayJSON appends the JSON of a payment (wire.Pay) to b.
func benchPayJSON(b []byte, from, to string, amount tongbao.Amount) []byte {
	b = append(b, `{"from":"`...)
	b = append(b, from...)
	b = append(b, `","to":"`...)
	b = append(b, to...)
	b = append(b, `","amount":"`...)
	b = append(b, amount.String()...)
	return append(b, `"}`...)
}
