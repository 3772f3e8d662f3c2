using System.Buffers.Binary;

namespace BackfillStudio.Engine.Batches;

/// <summary>Walks PostgreSQL binary COPY data (<see cref="BinaryCopyRows.Data"/>) tuple by tuple and field by field, decoding nothing.</summary>
public ref struct BinaryCopyCursor
{
    /// <summary>Signature (11 bytes), flags and header extension length (4 each); the extension follows.</summary>
    public const int FixedHeaderLength = 19;

    private readonly ReadOnlySpan<byte> _data;
    private int _position;
    private int _fieldsLeft;

    public BinaryCopyCursor(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = FixedHeaderLength + BinaryPrimitives.ReadInt32BigEndian(data[15..]);
    }

    /// <summary>Moves to the next tuple (skipping what is left of this one); false at the trailer.</summary>
    public bool NextRow()
    {
        while (_fieldsLeft > 0) NextField(out _);
        var count = BinaryPrimitives.ReadInt16BigEndian(_data[_position..]);
        _position += 2;
        if (count < 0) return false;
        _fieldsLeft = count;
        return true;
    }

    /// <summary>The tuple's next field: false for NULL, else its bytes in <paramref name="value"/>.</summary>
    public bool NextField(out ReadOnlySpan<byte> value)
    {
        var length = BinaryPrimitives.ReadInt32BigEndian(_data[_position..]);
        _position += 4;
        _fieldsLeft--;
        if (length < 0)
        {
            value = default;
            return false;
        }
        value = _data.Slice(_position, length);
        _position += length;
        return true;
    }
}
