package alerts

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"html"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/delivery"
)

// defaultSubject is the subject of an email alert without email_subject,
// after Tailer's ("TAILER RUN ALERT: @job_id FAILED at @execution_date").
const defaultSubject = "RUNWAY RUN ALERT: @job_id @status at @execution_date"

// email sends an email alert.
func (d *Dispatcher) email(ctx context.Context, a configs.Alert, f *facts) (delivery.Outcome, string) {
	if d.mailer == nil {
		return delivery.Abandoned, "no SMTP relay to send it through: RUNWAY_SMTP_URL is not set"
	}
	msg, err := emailMessage(a.Email, f, d.mailer.From, d.now(), messageID(f, a.Name))
	if err != nil {
		return delivery.Abandoned, "cannot write the message: " + err.Error()
	}
	return d.mailer.Send(ctx, a.Email.To, msg)
}

// messageID is the Message-ID of an alert: the same for every attempt, so
// that a mail system may recognize a second copy.
func messageID(f *facts, alert string) string {
	return fmt.Sprintf("<%s.%s.%s@runway>", f.ev.EventID, alert, f.run.Key)
}

// emailMessage writes the message of email alert e, from sender unless e
// names another: a plain-text part and an HTML part (multipart/
// alternative). The default subject and body apply unless e has its own,
// whose @variables are replaced; a txt body is the plain part, and shown
// as it is in the HTML part; an html body is the HTML part, and the
// default text the plain part.
func emailMessage(e *configs.EmailAlert, f *facts, sender *mail.Address, now time.Time, id string) ([]byte, error) {
	subject := configs.ExpandTemplate(cmp.Or(e.Subject, defaultSubject), f.values, nil)
	var plain, htmlPart bytes.Buffer
	switch {
	case e.Body == "":
		if err := defaultText.Execute(&plain, f.summary()); err != nil {
			return nil, err
		}
		if err := defaultHTML.Execute(&htmlPart, f.summary()); err != nil {
			return nil, err
		}
	case e.BodyType == "txt":
		plain.WriteString(configs.ExpandTemplate(e.Body, f.values, nil))
		if err := preformattedHTML.Execute(&htmlPart, plain.String()); err != nil {
			return nil, err
		}
	default:
		htmlPart.WriteString(configs.ExpandTemplate(e.Body, f.values, html.EscapeString))
		if err := defaultText.Execute(&plain, f.summary()); err != nil {
			return nil, err
		}
	}

	from := sender
	if e.From != nil {
		from = e.From
	}
	to := make([]string, len(e.To))
	for i, a := range e.To {
		to[i] = a.String()
	}
	var msg bytes.Buffer
	body := multipart.NewWriter(&msg)
	header := []struct{ key, value string }{
		{"From", from.String()},
		{"To", strings.Join(to, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", oneLine(subject))},
		{"Date", now.UTC().Format(time.RFC1123Z)},
		{"Message-ID", id},
		{"MIME-Version", "1.0"},
		{"Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": body.Boundary()})},
		// RFC 3834: no out-of-office answers to alerts.
		{"Auto-Submitted", "auto-generated"},
		{"X-Runway-Run-Id", f.run.RunID},
		{"X-Runway-Event-Id", f.ev.EventID},
	}
	if e.ReplyTo != nil {
		header = append(header, struct{ key, value string }{"Reply-To", e.ReplyTo.String()})
	}
	for _, h := range header {
		fmt.Fprintf(&msg, "%s: %s\r\n", h.key, h.value)
	}
	msg.WriteString("\r\n")
	for _, part := range []struct {
		mediaType string
		content   []byte
	}{{"text/plain", plain.Bytes()}, {"text/html", htmlPart.Bytes()}} {
		w, err := body.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(part.mediaType, map[string]string{"charset": "utf-8"})},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write(part.content); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := body.Close(); err != nil {
		return nil, err
	}
	return msg.Bytes(), nil
}

// oneLine keeps a header value on its line, whatever the variables held.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// summary is what the default messages show.
type summary struct {
	Title string
	Rows  []row
	Links []row
}

func (f *facts) summary() summary {
	rows, links := f.rows()
	return summary{Title: f.title(), Rows: rows, Links: links}
}

var defaultText = texttemplate.Must(texttemplate.New("text").Parse(`{{.Title}}
{{range .Rows}}
{{printf "%-16s" (print .Label ":")}}{{.Value}}{{end}}
{{range .Links}}
{{.Label}}: {{.Value}}{{end}}
`))

var defaultHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>{{.Title}}</h2>
<table cellpadding="4">{{range .Rows}}
<tr><th align="left">{{.Label}}</th><td>{{.Value}}</td></tr>{{end}}
</table>{{range .Links}}
<p><a href="{{.Value}}">{{.Label}}</a></p>{{end}}
</body></html>
`))

var preformattedHTML = htmltemplate.Must(htmltemplate.New("pre").Parse(`<!DOCTYPE html>
<html><body><pre style="font-family: monospace">{{.}}</pre></body></html>
`))
