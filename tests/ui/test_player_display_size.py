"""The player tells the frame server its size: a video larger than the view arrives decoded at
the view's size (aspect kept), and growing the view brings back full-size frames."""

from __future__ import annotations

import numpy as np

from sdanet_gui.media.display_decoder import fit_size
from sdanet_gui.ui.player import FrameView, PlayerController


def test_the_view_size_reaches_the_frame_server_and_frames_arrive_at_it(qtbot, reader):
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(170, 200)                                    # smaller than the 340x256 demo video
    view.show()
    qtbot.waitExposed(view)
    player = PlayerController(view)
    try:
        player.set_reader(reader)
        w, h = view.device_size()
        assert player.server.display_size == fit_size(340, 256, (w, h)) and w < 340
        qtbot.waitUntil(lambda: view.index == 0, timeout=5000)
        assert view.frame.shape[:2] == (player.server.display_size[1], player.server.display_size[0])
        player.seek_frame(120)
        qtbot.waitUntil(lambda: view.index == 120, timeout=5000)
        assert view.frame.shape[1] == player.server.display_size[0]
        view.resize(800, 600)                                # now the video fits: full size again
        qtbot.waitUntil(lambda: player.server.display_size is None, timeout=5000)
        qtbot.waitUntil(lambda: view.frame is not None and view.frame.shape == (256, 340, 3),
                        timeout=5000)
        assert view.index == 120
        np.testing.assert_array_equal(view.frame, reader.frame(120))
    finally:
        player.close()
