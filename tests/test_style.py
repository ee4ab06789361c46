"""The book's figure style."""
import ebcore


def test_book_style_sets_the_palette():
    import matplotlib as mpl
    ebcore.use_book_style()
    colours = [mpl.colors.to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert colours[:3] == [c.lower() for c in ebcore.PALETTE[:3]]
