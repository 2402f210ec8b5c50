# The example filter (examples/sample) as a script child: the same
# behaviour, so that the same messages through either are delivered alike.
#   * MAIL FROM reject@example.com: 550 5.7.1 Sender rejected by sample filter
#   * a Subject containing NOMOD: accepted unchanged
#   * otherwise, at end of message: X-Sample: yes added, the Subject
#     prefixed with "[sample] ", <added@DOMAIN> added as a recipient (DOMAIN
#     of the first recipient), and the body replaced by "replaced" when the
#     Subject contains REPLACE.

def on_envfrom(session)
  return :continue unless session.envelope_from.downcase.delete("<>") == "reject@example.com"
  session.reject("550 5.7.1 Sender rejected by sample filter")
end

def on_eom(session)
  subject = session.headers["Subject"] || ""
  return :accept if subject.include?("NOMOD")
  session.add_header("X-Sample", "yes")
  session.change_header("Subject", 1, "[sample] " + subject)
  domain = session.recipients.first.to_s.delete("<>").split("@", 2)[1]
  session.add_recipient("<added@#{domain}>") if domain && !domain.empty?
  session.replace_body("replaced\r\n") if subject.include?("REPLACE")
  :continue
end
