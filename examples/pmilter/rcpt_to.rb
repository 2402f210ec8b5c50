s = Pmilter::Session.new
if s.envelope_to == "<nobody@dest.example>"
  Pmilter.status = Pmilter::SMFIS_REJECT
end
