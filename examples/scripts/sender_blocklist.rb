# Sender-domain blocklist from a file: rejects a message whose envelope
# sender's domain, or any parent domain of it, is listed in
# blocked_sender_domains.txt (next to this script; one domain per line, '#'
# comments). Edit the list while the manager runs: it is re-read within a
# second.
#
#   child { name: "blocklist" script { file: "sender_blocklist.rb" } }

LIST = "blocked_sender_domains.txt"

# "<User@Sub.Example.COM>" -> ["sub.example.com", "example.com", "com"]
def domains_of(address)
  domain = address.delete("<>").split("@", 2)[1].to_s.downcase
  labels = domain.split(".")
  (0...labels.size).map { |i| labels[i..-1].join(".") }
end

def on_envfrom(session)
  blocked = Milter.read_set(LIST)
  hit = domains_of(session.envelope_from).find { |d| blocked.key?(d) }
  return :continue unless hit
  session.reject("550 5.7.1 Mail from #{hit} is not accepted here")
end
