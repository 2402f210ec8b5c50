# A script condition: greylisting applies to a message only when both
# evaluation-mode spam checkers rejected it. The checkers run first in
# evaluation mode (their verdicts are recorded, never applied); the
# greylisting child, under this condition, comes after them.
#
#   child { name: "spamassassin" connection_spec: "unix:/run/spamass.sock"
#           evaluation_mode: true }
#   child { name: "rspamd" connection_spec: "inet:11332@127.0.0.1"
#           evaluation_mode: true }
#   child { name: "greylist" connection_spec: "unix:/run/milter-greylist.sock"
#           applicable_conditions: "two-rejects" }
#   applicable_condition {
#     name: "two-rejects"
#     script { file: "greylist_when_two_reject.rb" }
#   }
#
# A condition method returns true (the child applies), false (it does not)
# or nil (not decided yet: asked again at the next stage).

CHECKERS = ["spamassassin", "rspamd"]

def rejected_by_all?(session, stage)
  CHECKERS.all? do |checker|
    session.child_answers.any? do |a|
      a.child == checker && a.stage == stage && a.status == :reject
    end
  end
end

# Checkers that refuse a recipient already: greylist that recipient.
def on_envrcpt(session)
  rejected_by_all?(session, :envrcpt) ? true : nil
end

# Content checkers decide at end of message.
def on_eom(session)
  rejected_by_all?(session, :eom)
end
