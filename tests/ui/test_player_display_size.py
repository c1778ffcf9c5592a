"""The player tells the frame server its size: a video larger than the view arrives decoded at
the view's size (aspect kept), and growing the view brings back full-size frames."""

from __future__ import annotations

import numpy as np

from sdanet_gui.media.display_decoder import fit_size
from sdanet_gui.ui.review.player import FrameView, PlayerController


def test_the_view_size_reaches_the_frame_server_and_frames_arrive_at_it(qtbot, reader):
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(170, 200)                                    # smaller than the 340x256 demo video
    view.show()
    qtbot.waitExposed(view)
    player = PlayerController(view)
    try:
        player.set_reader(reader)
        w, h = player.display_box(*view.device_size())
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


def test_a_resize_is_decoded_once_it_settles_and_small_ones_keep_the_decoded_frames(qtbot, reader):
    """Dragging a window edge must not re-decode the neighbourhood for every pixel of the drag."""
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(130, 100)
    view.show()
    qtbot.waitExposed(view)
    player = PlayerController(view)
    try:
        player.set_reader(reader)
        qtbot.waitUntil(lambda: view.index == 0, timeout=5000)
        first = player.server.display_size
        assert first == fit_size(340, 256, (192, 128))        # 130x100 rounded up to 64-px steps
        sizes = []
        player.server.set_display_size = lambda *wh, _orig=player.server.set_display_size: (
            sizes.append(wh), _orig(*wh))[1]
        view.resize(140, 104)                                 # a few pixels: same decode size
        qtbot.wait(400)
        assert player.server.display_size == first
        for w in range(150, 260, 10):                         # an edge dragged: 11 resizes
            view.resize(w, 200)
        qtbot.waitUntil(lambda: player.server.display_size != first, timeout=3000)
        qtbot.wait(300)
        assert len(sizes) <= 2 and sizes[-1] == (256, 256)    # the drag's end, not every step
        qtbot.waitUntil(lambda: view.frame is not None and
                        view.frame.shape[1] == player.server.display_size[0], timeout=5000)
    finally:
        player.close()
