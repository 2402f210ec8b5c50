# Header-based spam tag: when a spam filter earlier in the chain (rspamd,
# SpamAssassin) marked the message with X-Spam-Flag: YES, or an
# X-Spam-Status / X-Spam header starting with "Yes", the Subject gets a
# "[SPAM] " prefix (once) and X-Spam-Tagged records who tagged it. Put this
# script after the spam filter so that it sees the filter's headers.
#
#   child { name: "rspamd" connection_spec: "inet:11332@127.0.0.1" }
#   child { name: "spam-tag" script { file: "spam_tag.rb" } }

TAG = "[SPAM] "

def spam?(headers)
  return true if headers["X-Spam-Flag"].to_s.strip.upcase == "YES"
  ["X-Spam-Status", "X-Spam"].any? { |name| headers[name].to_s =~ /\A\s*yes\b/i }
end

def on_eom(session)
  headers = session.headers
  return :continue unless spam?(headers)
  subject = headers["Subject"]
  if subject.nil?
    session.add_header("Subject", TAG.strip)
  elsif !subject.start_with?(TAG)
    session.change_header("Subject", 1, TAG + subject)
  end
  session.add_header("X-Spam-Tagged", "by milter-manager spam_tag.rb")
  :continue
end
