"""Songs from lyrics or a score: the sheet and its stresses (`lyrics`), how it is played (`style`),
the tune and chords (`melody`), the band's notes and the MIDI file (`arrange`, `tracks`), their
sound (`synth`: FluidSynth), the mix and master (`mix`) and MusicXML both ways (`scorefile`).
Nothing here releases audio: voicekit.studio.songs runs these and releases through the studio."""
